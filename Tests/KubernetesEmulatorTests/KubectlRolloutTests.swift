import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// The real kubectl (v1.32) on Deployments: `rollout status|restart|undo|history` and `scale`, against the
/// emulator's deployment and replica-set controllers with a kubelet running the pods.
@Suite struct KubectlRolloutTests {
    typealias Kubectl = KubectlNodeTests.Kubectl

    static func withKubectl(_ body: (KubernetesEmulator, Kubectl) async throws -> Void) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: KubectlNodeTests.kubectl), "kubectl is not installed")
        try await withTemporaryDirectory { directory in
            try await withEmulator(namespaces: ["default", "shop"], kubelet: WorkloadTests.kubelet) { emulator, _ in
                let kubeconfig = "\(directory)/kubeconfig"
                try await emulator.writeKubeconfig(to: kubeconfig, namespace: "shop")
                try await body(emulator, Kubectl(kubeconfig: kubeconfig, directory: directory))
            }
        }
    }

    @Test func rolloutStatusRestartUndoHistoryAndScale() async throws {
        try await Self.withKubectl { emulator, kubectl in
            try await emulator.seed(.deployments, namespace: "shop", WorkloadTests.deployment(replicas: 2))
            var (status, output) = try await kubectl("rollout", "status", "deployment/web", "--timeout=30s")
            #expect(status == 0 && output.contains(#"deployment "web" successfully rolled out"#), "\(output)")

            (status, output) = try await kubectl("rollout", "restart", "deployment/web")
            #expect(status == 0 && output.contains("deployment.apps/web restarted"), "\(output)")
            (status, output) = try await kubectl("rollout", "status", "deployment/web", "--timeout=30s")
            #expect(status == 0 && output.contains("successfully rolled out"), "\(output)")
            #expect(await emulator.object(.deployments, namespace: "shop", name: "web")?["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2")
            #expect(await emulator.objects(.replicaSets, namespace: "shop").count == 2)

            (status, output) = try await kubectl("rollout", "history", "deployment/web")
            #expect(status == 0, "\(output)")
            let revisions = output.split(separator: "\n").compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
            #expect(revisions == [1, 2], "\(output)")

            (status, output) = try await kubectl("rollout", "undo", "deployment/web")
            #expect(status == 0 && output.contains("deployment.apps/web rolled back"), "\(output)")
            (status, output) = try await kubectl("rollout", "status", "deployment/web", "--timeout=30s")
            #expect(status == 0 && output.contains("successfully rolled out"), "\(output)")
            let sets = await emulator.objects(.replicaSets, namespace: "shop")
            #expect(sets.count == 2)
            #expect(sets.compactMap { $0["metadata"]["annotations"]["deployment.kubernetes.io/revision"].string }.sorted() == ["2", "3"])
            #expect(await emulator.object(.deployments, namespace: "shop", name: "web")?["spec"]["template"]["metadata"]["annotations"].isNull == true)

            (status, output) = try await kubectl("scale", "deployment/web", "--replicas=3")
            #expect(status == 0 && output.contains("deployment.apps/web scaled"), "\(output)")
            (status, output) = try await kubectl("rollout", "status", "deployment/web", "--timeout=30s")
            #expect(status == 0, "\(output)")
            let pods = await emulator.objects(.pods, namespace: "shop").filter { $0["metadata"]["deletionTimestamp"].isNull }
            #expect(pods.count == 3)
            let scaleRequest = await emulator.requestLog.last { $0.path.hasSuffix("/deployments/web/scale") }
            #expect(scaleRequest?.method == "PATCH" && scaleRequest?.permission == "patch deployments/scale.apps")

            (status, output) = try await kubectl("get", "rs", "-o", "name")
            #expect(status == 0 && output.split(separator: "\n").count == 2, "\(output)")
        }
    }

    @Test func rolloutStatusFailsOnceTheProgressDeadlineIsExceeded() async throws {
        try await Self.withKubectl { emulator, kubectl in
            try await emulator.seed(.deployments, namespace: "shop",
                                    WorkloadTests.deployment(replicas: 1, image: "shop/web:missing", extra: ["progressDeadlineSeconds": 1]))
            let (status, output) = try await kubectl("rollout", "status", "deployment/web", "--timeout=30s")
            #expect(status != 0)
            #expect(output.contains(#"deployment "web" exceeded its progress deadline"#), "\(output)")
        }
    }
}
