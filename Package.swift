// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Euphrosyne",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "euphrosyne", targets: ["euphrosyne"]),
        .executable(name: "euphrosyne-recipes", targets: ["euphrosyne-recipes"]),
        .library(name: "RecipeKit", targets: ["RecipeKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // NIOHTTPTypes: the HTTP parts of Hummingbird's pipeline, for the listeners' connection guard.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Test support only: the Kubernetes emulator makes its own CA and server certificate.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // The dashboard's HTML: logic-less templates compiled into the binary, escaping every value by default.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // Helpers written once and shared by everything above them, on the standard library and Foundation only:
        // hex, constant-time comparison, retry with back-off, child processes, work shielded from cancellation.
        .target(
            name: "EuphrosyneSupport",
            swiftSettings: swiftSettings
        ),
        // Values and pure logic: payloads, incidents, the recipe catalog, aggregation, the state machine.
        .target(
            name: "EuphrosyneCore",
            dependencies: [
                // Hex: digests and signatures as text.
                "EuphrosyneSupport",
                .product(name: "Yams", package: "Yams"),
                // SHA-256 and HMAC-SHA256: digests of notification identities, result signatures. Pure computation.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Our own Redis client on SwiftNIO: RESP codec, connection, commands, one subscriber for all channels.
        .target(
            name: "EuphrosyneRedis",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Our own Kubernetes client on AsyncHTTPClient: configuration (in-cluster, kubeconfig), typed resources,
        // verbs, watch, and an informer cache.
        .target(
            name: "EuphrosyneKubernetes",
            dependencies: [
                "EuphrosyneCore",
                // RetryPolicy: the one retry loop.
                "EuphrosyneSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The ports between the engine and its adapters, and the values they carry: launcher, registry, result
        // source, notifier, store, approvals, replay cache. Adapters depend on this, never on the engine.
        .target(
            name: "EuphrosynePorts",
            dependencies: ["EuphrosyneCore"],
            swiftSettings: swiftSettings
        ),
        // The coordinator that drives incidents through the ports; it depends on no adapter.
        .target(
            name: "EuphrosyneEngine",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                "EuphrosyneSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Local mode's adapters: recipes as local processes, results over the HTTP callback.
        .target(
            name: "EuphrosyneLocal",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                // ChildProcess: each recipe run is one.
                "EuphrosyneSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Cluster mode's adapters: recipes as Kubernetes Jobs, the registry from its ConfigMap.
        .target(
            name: "EuphrosyneCluster",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                "EuphrosyneKubernetes",
                // CancellationShield: Job creation and deletion finish even when their run is cancelled.
                "EuphrosyneSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Redis adapters: the incident store, results over pub/sub and their durable lists, the replay cache
        // every replica shares.
        .target(
            name: "EuphrosyneRedisAdapters",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                "EuphrosyneRedis",
                // RetryPolicy's back-off for re-subscribing.
                "EuphrosyneSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The notifier for the original Webex bot, in its protocol (POST /api/analysis, /api/status).
        .target(
            name: "EuphrosyneBot",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                // RetryPolicy: the attempts and back-off of each notification.
                "EuphrosyneSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP listeners (webhook + result callback, API). It names no adapter: the replay cache comes in as the
        // port, and integrations mount their own routes on the API listener as ListenerRoutes.
        .target(
            name: "EuphrosyneServer",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                "EuphrosyneSupport",
                "EuphrosyneEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // HMAC-SHA256 of signed API requests.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // openapi.yaml is a symlink to the repository root's openapi.yaml, compiled into the binary and served
            // at GET /openapi.yaml (see OpenAPIRoutes.swift).
            resources: [.embedInCode("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        // The built-in Webex integration: the REST client, the notifier (markdown and Adaptive Cards), card-button
        // approvals (through the ApprovalHandling port), and its callback route, mounted on the API listener as
        // ListenerRoutes.
        .target(
            name: "EuphrosyneWebex",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                // RetryPolicy, Hex, ConstantTime.
                "EuphrosyneSupport",
                // ListenerRoutes, APIError, RequestBody, JSONResponse for POST /api/webex/events.
                "EuphrosyneServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // HMAC-SHA1 of Webex webhook callbacks (X-Spark-Signature).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The built-in Slack integration (issue 16, under way): the Web API client, Slack's request signature, the
        // notifier (Block Kit), button approvals (through the ApprovalHandling port) and their callback route.
        .target(
            name: "EuphrosyneSlack",
            dependencies: [
                "EuphrosyneCore",
                // Notifier, ChatNotification, ApprovalHandling.
                "EuphrosynePorts",
                // RetryPolicy, Hex, ConstantTime.
                "EuphrosyneSupport",
                // ListenerRoutes, APIError, RequestBody for POST /api/slack/interactions.
                "EuphrosyneServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // HMAC-SHA256 of Slack's request signature (X-Slack-Signature).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift SDK for writing recipes.
        .target(
            name: "RecipeKit",
            dependencies: [
                "EuphrosyneCore",
                // RetryPolicy: the reporters' attempts and back-off.
                "EuphrosyneSupport",
                "EuphrosyneRedis",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The app builder: ServeSettings (from ServeOptions and the environment) and ReconcilerApp, which wires
        // either mode's adapters, the coordinator and the listeners into one ServiceGroup. Used by the CLI's `serve`
        // and by the end-to-end tests, so neither copies the wiring.
        // The web dashboard under /ui/ on the API listener: server-rendered pages (Mustache), a little JavaScript,
        // live updates from the coordinator's incident changes; the data behind the API's authentication.
        .target(
            name: "EuphrosyneDashboard",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                // IncidentCoordinator: incidents, their changes, approvals.
                "EuphrosyneEngine",
                // ListenerRoutes, APIError, APICaller.
                "EuphrosyneServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                // The event stream ends when the listener shuts down gracefully.
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EuphrosyneApp",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                "EuphrosyneEngine",
                "EuphrosyneServer",
                "EuphrosyneLocal",
                "EuphrosyneCluster",
                "EuphrosyneRedisAdapters",
                "EuphrosyneBot",
                "EuphrosyneWebex",
                "EuphrosyneSlack",
                "EuphrosyneDashboard",
                "EuphrosyneRedis",
                "EuphrosyneKubernetes",
                // SecureRandom and Hex: the replica's identity in the leader election.
                "EuphrosyneSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // A replica standing by forwards requests to the leader (LeaderForwardingClient).
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The CLI: `serve` parses its flags into ServeOptions and runs ReconcilerApp; the other commands are small
        // clients of the API.
        .executableTarget(
            name: "euphrosyne",
            dependencies: [
                "EuphrosyneApp",
                "EuphrosyneCore",
                // JSONLogHandler, which `serve` bootstraps logging with.
                "EuphrosyneServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The built-in recipes (dummy, record, and the catalogue), one file each; the executable only dispatches.
        .target(
            name: "EuphrosyneRecipes",
            dependencies: [
                "RecipeKit", "EuphrosyneCore", "EuphrosyneKubernetes",
                // RetryPolicy: the attempts and back-off of the recipes that call other services.
                "EuphrosyneSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "euphrosyne-recipes",
            dependencies: ["RecipeKit", "EuphrosyneCore", "EuphrosyneRecipes"],
            swiftSettings: swiftSettings
        ),
        // The benchmarks behind scripts/bench: each row a ratio against a reference measured in the same run. It
        // uses two test-support targets: the fake peers and server helpers, and the Kubernetes emulator (cluster
        // mode's storm).
        .executableTarget(
            name: "euphrosyne-bench",
            dependencies: [
                "EuphrosyneCore", "EuphrosyneEngine", "EuphrosynePorts", "EuphrosyneLocal", "EuphrosyneBot",
                "EuphrosyneRedis", "EuphrosyneSupport", "EuphrosyneTestSupport", "KubernetesEmulator",
                // The dashboard row renders the list on the real API router.
                "EuphrosyneDashboard", "EuphrosyneServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Fakes of the peers we talk to (the chat bot, Webex) and of the ports (EngineFakes, on Ports and the engine's
        // InMemoryIncidentStore), real servers started per test, and server helpers, shared by the tests and the bench.
        .target(
            name: "EuphrosyneTestSupport",
            dependencies: [
                "EuphrosyneCore",
                "EuphrosynePorts",
                "EuphrosyneSupport",
                "EuphrosyneEngine",
                "EuphrosyneRedis",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                // RawHTTPConnection: bytes exactly as a hostile client sends them.
                .product(name: "NIOPosix", package: "swift-nio"),
                // HMAC-SHA1 of the fake Webex's signed webhook callbacks (X-Spark-Signature).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/EuphrosyneTestSupport",
            swiftSettings: swiftSettings
        ),
        // An in-process Kubernetes API server (HTTPS, bearer token) with a job controller and a local "kubelet" that
        // runs each Job's pod as a process: what cluster mode is tested against.
        .target(
            name: "KubernetesEmulator",
            dependencies: [
                // ChildProcess: the kubelet runs each pod as a process.
                "EuphrosyneSupport",
                // Permissions.granted(to:byManifests:): the shipped RBAC manifests, read as a test's permissions.
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/KubernetesEmulator",
            swiftSettings: swiftSettings
        ),
        // The emulator held to the API's conventions and to a real client (kubectl).
        .testTarget(
            name: "KubernetesEmulatorTests",
            dependencies: [
                "KubernetesEmulator",
                "EuphrosyneTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EuphrosyneKubernetesTests",
            dependencies: ["EuphrosyneKubernetes", "KubernetesEmulator", "EuphrosyneTestSupport"],
            swiftSettings: swiftSettings
        ),
        // The helpers every layer shares (CancellationShield).
        .testTarget(
            name: "EuphrosyneSupportTests",
            dependencies: ["EuphrosyneSupport", "EuphrosyneTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EuphrosyneCoreTests",
            dependencies: ["EuphrosyneCore"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EuphrosyneRedisTests",
            dependencies: [
                "EuphrosyneRedis", "EuphrosyneTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EuphrosyneEngineTests",
            dependencies: [
                "EuphrosyneEngine", "EuphrosynePorts", "EuphrosyneSupport", "EuphrosyneTestSupport",
                // HTTPCallbackResultSource: the coordinator's tests run with local mode's result source.
                "EuphrosyneLocal",
                // Counters the coordinator records (results refused), read back in tests.
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The local launcher and ChildProcess, with real processes.
        .testTarget(
            name: "EuphrosyneLocalTests",
            dependencies: [
                "EuphrosyneLocal", "EuphrosynePorts", "EuphrosyneCore", "EuphrosyneTestSupport",
                // ChildProcessTests: Support has no test target of its own; ChildProcess is the launcher's engine.
                "EuphrosyneSupport",
            ],
            swiftSettings: swiftSettings
        ),
        // The Jobs and ConfigMaps the cluster launcher sends, as values; the diagnosis' shared ConfigMap (OncePerKey).
        .testTarget(
            name: "EuphrosyneClusterTests",
            dependencies: [
                "EuphrosyneCluster", "EuphrosyneKubernetes", "EuphrosynePorts", "EuphrosyneCore",
                // Gate and waitUntil: OncePerKey's waiters, without sleeping; ManualClock for the leader election.
                "EuphrosyneTestSupport",
                // The leader election's Lease, as the API server keeps it.
                "KubernetesEmulator",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The bot notifier against the fake bot.
        .testTarget(
            name: "EuphrosyneBotTests",
            dependencies: [
                "EuphrosyneBot", "EuphrosynePorts", "EuphrosyneCore", "EuphrosyneSupport", "EuphrosyneTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Webex client and notifier against FakeWebex (and FakeWebex held to Webex's contract), the card and the
        // callback checks as values.
        .testTarget(
            name: "EuphrosyneWebexTests",
            dependencies: [
                "EuphrosyneWebex", "EuphrosynePorts", "EuphrosyneCore", "EuphrosyneSupport", "EuphrosyneTestSupport",
                // WebexPureTests builds WebexApprovals around a real coordinator (never run).
                "EuphrosyneEngine", "EuphrosyneLocal",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Slack client against FakeSlack (and FakeSlack held to Slack's contract), the signature as values.
        .testTarget(
            name: "EuphrosyneSlackTests",
            dependencies: [
                "EuphrosyneSlack", "EuphrosyneCore", "EuphrosynePorts", "EuphrosyneSupport", "EuphrosyneTestSupport",
                // SlackApprovalsTests runs the clicks into a real coordinator.
                "EuphrosyneEngine", "EuphrosyneLocal",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The dashboard's pages as values, and its routes against a real coordinator.
        .testTarget(
            name: "EuphrosyneDashboardTests",
            dependencies: [
                "EuphrosyneDashboard", "EuphrosyneCore", "EuphrosynePorts", "EuphrosyneEngine", "EuphrosyneServer",
                "EuphrosyneLocal", "EuphrosyneTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Redis adapters against a real redis-server; the result source feeding a real coordinator.
        .testTarget(
            name: "EuphrosyneRedisAdaptersTests",
            dependencies: [
                "EuphrosyneRedisAdapters", "EuphrosyneEngine", "EuphrosynePorts", "EuphrosyneCore", "EuphrosyneRedis",
                "EuphrosyneTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EuphrosyneServerTests",
            dependencies: [
                "EuphrosyneServer", "EuphrosynePorts", "EuphrosyneTestSupport",
                // HTTPCallbackResultSource: the listeners' coordinator runs with local mode's result source.
                "EuphrosyneLocal",
                // OpenAPITests: the Webex and Slack callbacks are among the API listener's documented routes.
                "EuphrosyneWebex", "EuphrosyneSlack",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                // OpenAPITests reads openapi.yaml.
                .product(name: "Yams", package: "Yams"),
                // Refusals are counted: read back through swift-metrics' test backend.
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Each built-in recipe against a real or faithful counterpart (Prometheus, the Kubernetes emulator, fakes).
        .testTarget(
            name: "EuphrosyneRecipesTests",
            dependencies: [
                "EuphrosyneRecipes", "RecipeKit", "EuphrosyneCore", "EuphrosyneTestSupport", "KubernetesEmulator",
                // The node recipes' plans are tested as values of the client's types (Node, Pod, budgets).
                "EuphrosyneKubernetes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RecipeKitTests",
            dependencies: ["RecipeKit", "EuphrosyneTestSupport", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        // The whole loop with real processes: the CLI's serve path, real recipes, a fake bot.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                // LocalLoop runs the reconciler as `serve --local` builds it.
                "EuphrosyneApp",
                "KubernetesEmulator",
                "EuphrosyneKubernetes",
                "EuphrosyneServer", "EuphrosyneEngine", "EuphrosynePorts", "EuphrosyneRedis", "EuphrosyneCore",
                "EuphrosyneSupport", "EuphrosyneTestSupport", "EuphrosyneLocal", "EuphrosyneCluster",
                "EuphrosyneRedisAdapters", "EuphrosyneBot", "EuphrosyneWebex",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // ShippedRedisACLTests reads the manifests and hashes passwords as the init script does.
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
    ]
)
