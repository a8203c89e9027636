import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// The real kubectl (v1.32, /usr/bin/kubectl) against the emulator, through a kubeconfig from `writeKubeconfig`.
@Suite struct KubectlTests {
    static let manifest = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: kc-data
      labels: {app: x}
    data:
      data.json: '{"hello":"kubectl"}'
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: kc-job
      labels: {app: x}
    spec:
      backoffLimit: 0
      template:
        metadata:
          labels: {app: x}
        spec:
          restartPolicy: Never
          containers:
          - name: runner
            image: test/recipes:1
            command: ["show.sh", "/app/data.json"]
            volumeMounts: [{name: data, mountPath: /app}]
          volumes: [{name: data, configMap: {name: kc-data}}]
    """

    @Test func kubectlGetCreateLogsDelete() async throws {
        let kubectl = "/usr/bin/kubectl"
        try #require(FileManager.default.isExecutableFile(atPath: kubectl), "kubectl is not installed")
        try await withTemporaryDirectory { directory in
            try writeExecutableScript(at: "\(directory)/show.sh", "#!/bin/sh\necho \"data: $(cat \"$1\")\"\n")
            let configuration = Kubelet.Configuration(images: ["test/recipes:1": .init(directory: directory)])
            try await withEmulator(namespaces: ["default", "alerts"], kubelet: configuration) { emulator, _ in
                let kubeconfig = "\(directory)/kubeconfig"
                try await emulator.writeKubeconfig(to: kubeconfig, namespace: "alerts")
                try Data(Self.manifest.utf8).write(to: URL(fileURLWithPath: "\(directory)/manifest.yaml"))
                func kubectlRun(_ arguments: String...) async throws -> String {
                    let (status, output, errors) = try await run(
                        kubectl, ["--kubeconfig", kubeconfig, "--cache-dir", "\(directory)/cache", "--request-timeout", "20s"] + arguments,
                        environment: ["HOME": directory, "PATH": "/usr/bin:/bin"]
                    )
                    #expect(status == 0, "kubectl \(arguments.joined(separator: " ")) → \(status): \(errors)")
                    return output
                }

                let empty = try await kubectlRun("get", "configmaps")
                #expect(empty.isEmpty)
                // Default validation (strict): kubectl reads /openapi/v3, finds fieldValidation, validates on the server.
                let created = try await kubectlRun("create", "-f", "\(directory)/manifest.yaml")
                #expect(created.contains("configmap/kc-data created") && created.contains("job.batch/kc-job created"))
                let log = await emulator.requestLog
                #expect(log.contains { $0.path == "/openapi/v3" })
                #expect(log.contains { $0.method == "POST" && $0.path.hasSuffix("/jobs") && $0.query["fieldValidation"] == "Strict" && $0.status == 201 })
                let jobs = await emulator.objects(.jobs, namespace: "alerts")
                #expect(jobs.count == 1)
                try await waitUntil("kc-job to complete") {
                    let job = await emulator.object(.jobs, namespace: "alerts", name: "kc-job")
                    return job.flatMap { condition($0, "Complete") } != nil
                }

                let table = try await kubectlRun("get", "configmaps")
                #expect(table.contains("kc-data") && table.contains("NAME"))
                let jobTable = try await kubectlRun("get", "jobs")
                #expect(jobTable.contains("kc-job") && jobTable.contains("Complete"))

                let json = try JSON.parse(try await kubectlRun("get", "jobs", "-l", "app=x", "-o", "json"))
                #expect(json["items"].array?.count == 1)
                #expect(json["items"][0]["metadata"]["name"] == "kc-job" && json["items"][0]["kind"] == "Job")
                #expect(condition(json["items"][0], "Complete") != nil)

                let podName = try #require(await emulator.objects(.pods, namespace: "alerts").first?["metadata"]["name"].string)
                let logs = try await kubectlRun("logs", podName)
                #expect(logs == "data: {\"hello\":\"kubectl\"}\n")
                #expect(try await kubectlRun("logs", "job/kc-job").contains("hello"))

                let deleted = try await kubectlRun("delete", "jobs", "-l", "app=x")
                #expect(deleted.contains("job.batch \"kc-job\" deleted"))
                #expect(await emulator.objects(.jobs, namespace: "alerts").isEmpty)
                #expect(await emulator.objects(.pods, namespace: "alerts").isEmpty, "kubectl deletes with propagationPolicy=Background")

                // --validate=false works too (no /openapi/v3 download).
                let again = try await kubectlRun("create", "--validate=false", "-n", "default", "-f", "\(directory)/manifest.yaml")
                #expect(again.contains("job.batch/kc-job created"))
                _ = try await kubectlRun("delete", "-n", "default", "jobs,configmaps", "-l", "app=x")
                #expect(await emulator.objects(.jobs, namespace: "default").isEmpty)
            }
        }
    }

    static let deploymentManifest = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: api
    spec:
      replicas: 2
      selector:
        matchLabels: {app: api}
      template:
        metadata:
          labels: {app: api}
        spec:
          containers:
          - name: api
            image: shop/api:1.2
    ---
    apiVersion: v1
    kind: Event
    metadata:
      name: api-1.17c2
    involvedObject: {kind: Pod, namespace: alerts, name: api-1}
    type: Warning
    reason: BackOff
    message: Back-off restarting failed container
    """

    @Test func kubectlCreatesAndListsDeploymentsAndEvents() async throws {
        let kubectl = "/usr/bin/kubectl"
        try #require(FileManager.default.isExecutableFile(atPath: kubectl), "kubectl is not installed")
        try await withTemporaryDirectory { directory in
            try await withEmulator(namespaces: ["alerts"]) { emulator, _ in
                let kubeconfig = "\(directory)/kubeconfig"
                try await emulator.writeKubeconfig(to: kubeconfig, namespace: "alerts")
                try Data(Self.deploymentManifest.utf8).write(to: URL(fileURLWithPath: "\(directory)/manifest.yaml"))
                func kubectlRun(_ arguments: String...) async throws -> String {
                    let (status, output, errors) = try await run(
                        kubectl, ["--kubeconfig", kubeconfig, "--cache-dir", "\(directory)/cache", "--request-timeout", "20s"] + arguments,
                        environment: ["HOME": directory, "PATH": "/usr/bin:/bin"]
                    )
                    #expect(status == 0, "kubectl \(arguments.joined(separator: " ")) → \(status): \(errors)")
                    return output
                }
                let created = try await kubectlRun("create", "-f", "\(directory)/manifest.yaml")
                #expect(created.contains("deployment.apps/api created") && created.contains("event/api-1.17c2 created"))
                let deployments = try await kubectlRun("get", "deployments")
                #expect(deployments.contains("api") && deployments.contains("0/2"))
                let events = try await kubectlRun("get", "events", "--field-selector", "involvedObject.name=api-1,type=Warning")
                #expect(events.contains("BackOff") && events.contains("Back-off restarting failed container"))
                #expect(try await kubectlRun("get", "events", "--field-selector", "involvedObject.name=api-2").isEmpty)
            }
        }
    }

    static let leaseManifest = """
    apiVersion: coordination.k8s.io/v1
    kind: Lease
    metadata:
      name: euphrosyne-leader
    spec:
      holderIdentity: replica-a_0123abcd
      leaseDurationSeconds: 15
      acquireTime: "2026-12-05T01:00:00.000000Z"
      renewTime: "2026-12-05T01:00:10.000000Z"
      leaseTransitions: 0
    """

    /// The Lease the replicas compete for, as an operator inspects it: kubectl reads it, and a write over a version
    /// that is no longer current is refused with a conflict, as the leader election relies on.
    @Test func kubectlReadsALeaseAndAStaleReplaceIsRefusedWithAConflict() async throws {
        let executable = "/usr/bin/kubectl"
        try #require(FileManager.default.isExecutableFile(atPath: executable), "kubectl is not installed")
        try await withTemporaryDirectory { directory in
            try await withEmulator(namespaces: ["alerts"]) { emulator, _ in
                let kubeconfig = "\(directory)/kubeconfig"
                try await emulator.writeKubeconfig(to: kubeconfig, namespace: "alerts")
                try Data(Self.leaseManifest.utf8).write(to: URL(fileURLWithPath: "\(directory)/lease.yaml"))
                func kubectl(_ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
                    try await run(
                        executable, ["--kubeconfig", kubeconfig, "--cache-dir", "\(directory)/cache", "--request-timeout", "20s"] + arguments,
                        environment: ["HOME": directory, "PATH": "/usr/bin:/bin"]
                    )
                }
                func kubectlRun(_ arguments: String...) async throws -> String {
                    let (status, output, errors) = try await kubectl(arguments)
                    #expect(status == 0, "kubectl \(arguments.joined(separator: " ")) → \(status): \(errors)")
                    return output
                }

                #expect(try await kubectlRun("create", "-f", "\(directory)/lease.yaml").contains("lease.coordination.k8s.io/euphrosyne-leader created"))
                let listed = try await kubectlRun("get", "leases")
                #expect(listed.contains("euphrosyne-leader") && listed.contains("replica-a_0123abcd"), "\(listed)")
                let holder = try await kubectlRun("get", "lease", "euphrosyne-leader", "-o", "jsonpath={.spec.holderIdentity}")
                #expect(holder == "replica-a_0123abcd")

                // Saved as read, then renewed by its holder: the saved copy's version is stale.
                let read = try await kubectlRun("get", "lease", "euphrosyne-leader", "-o", "json")
                try Data(read.utf8).write(to: URL(fileURLWithPath: "\(directory)/read.json"))
                let renewed = read.replacingOccurrences(of: "2026-12-05T01:00:10.000000Z", with: "2026-12-05T01:00:12.000000Z")
                #expect(renewed != read)
                try Data(renewed.utf8).write(to: URL(fileURLWithPath: "\(directory)/renewed.json"))
                #expect(try await kubectlRun("replace", "-f", "\(directory)/renewed.json").contains("replaced"))
                let taken = read.replacingOccurrences(of: "replica-a_0123abcd", with: "replica-b_4567ef01")
                try Data(taken.utf8).write(to: URL(fileURLWithPath: "\(directory)/taken.json"))
                let (status, _, errors) = try await kubectl(["replace", "-f", "\(directory)/taken.json"])
                #expect(status != 0)
                #expect(errors.contains("Conflict") || errors.contains("the object has been modified"), "\(errors)")
                #expect(try await kubectlRun("get", "lease", "euphrosyne-leader", "-o", "jsonpath={.spec.holderIdentity}")
                    == "replica-a_0123abcd", "the stale write changed nothing")
            }
        }
    }
}
