import Hummingbird

/// `/healthz` (the process answers) and `/readyz` (it can take alerts), on both listeners.
enum HealthRoutes {
    struct Health: Codable {
        var status: String
        var problems: [String: String]?
    }

    static func add<Context: RequestContext>(to router: Router<Context>, readiness: Readiness) {
        router.get("/healthz") { _, _ in
            try JSONResponse.make(Health(status: "ok"))
        }
        router.get("/readyz") { _, _ in
            let problems = await readiness.problems()
            if problems.isEmpty { return try JSONResponse.make(Health(status: "ready")) }
            return try JSONResponse.make(Health(status: "not ready", problems: problems), status: .serviceUnavailable)
        }
    }
}
