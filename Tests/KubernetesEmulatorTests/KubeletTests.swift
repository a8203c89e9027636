import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KubeletTests {
    static let jobs = "/apis/batch/v1/namespaces/default/jobs"
    static let image = "test/recipes:1"

    /// An image directory with the scripts the tests run (executed directly: the kernel reads the shebang).
    static func withImage<Result: Sendable>(_ body: (Kubelet.Configuration, String) async throws -> Result) async throws -> Result {
        try await withTemporaryDirectory { directory in
            try writeExecutableScript(at: "\(directory)/show.sh", """
            #!/bin/sh
            echo "data: $(cat "$1")"
            echo "token=$BOT_TOKEN"
            echo "to stderr" >&2
            """)
            try writeExecutableScript(at: "\(directory)/fail.sh", "#!/bin/sh\necho failing\nexit 3\n")
            try writeExecutableScript(at: "\(directory)/slow.sh", "#!/bin/sh\necho one\nsleep 0.3\necho two\n")
            try writeExecutableScript(at: "\(directory)/hang.sh", "#!/bin/sh\necho hanging\nsleep 30\necho never\n")
            let configuration = Kubelet.Configuration(images: [image: .init(directory: directory)])
            return try await body(configuration, directory)
        }
    }

    static func job(_ client: TestClient, _ name: String) async throws -> JSON {
        try await client.send(.GET, "\(jobs)/\(name)").body
    }

    @Test func jobRunsScriptWithConfigMapAndSecretAndCompletes() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                _ = try await client.send(.POST, "/api/v1/namespaces/default/secrets", ["metadata": ["name": "bot"], "stringData": ["token": "s3cret"]])
                _ = try await client.send(.POST, "/api/v1/namespaces/default/configmaps", ["metadata": ["name": "recipe-data"], "data": ["data.json": "{\"alert\":1}"]])
                let watch = try await client.watch("\(Self.jobs)?watch=true&resourceVersion=\(await emulator.currentResourceVersion)")
                let manifest = jobManifest(command: ["show.sh", "/app/data.json"], configMap: "recipe-data", env: [
                    ["name": "BOT_TOKEN", "valueFrom": ["secretKeyRef": ["name": "bot", "key": "token"]]],
                ])
                let created = try await client.send(.POST, Self.jobs, manifest)
                #expect(created.status == 201)
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("the job to complete") { condition(try await Self.job(client, name), "Complete") != nil }

                let job = try await Self.job(client, name)
                let conditions = job["status"]["conditions"].array ?? []
                #expect(conditions.map { $0["type"].string ?? "" } == ["SuccessCriteriaMet", "Complete"])
                #expect(conditions.allSatisfy { $0["reason"] == "CompletionsReached" && $0["status"] == "True" })
                #expect(job["status"]["succeeded"] == 1 && job["status"]["active"].isNull && job["status"]["failed"].isNull)
                #expect(job["status"]["startTime"].string != nil && job["status"]["completionTime"].string != nil)

                // Every status change was a MODIFIED event; SuccessCriteriaMet came before Complete.
                let events = try await watch.waitFor(3)
                #expect(events.first?["type"] == "ADDED")
                let states = events.dropFirst().map { event in (event["object"]["status"]["conditions"].array ?? []).compactMap { $0["type"].string } }
                #expect(events.dropFirst().allSatisfy { $0["type"] == "MODIFIED" })
                #expect(states.contains(["SuccessCriteriaMet"]))
                #expect(states.last == ["SuccessCriteriaMet", "Complete"])
                #expect(events.dropFirst().contains { $0["object"]["status"]["active"] == 1 })
                await watch.cancel()

                let pods = try await client.send(.GET, "/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3D\(name)")
                let pod = try #require(pods.body["items"].array?.first)
                let podName = try #require(pod["metadata"]["name"].string)
                #expect(podName.hasPrefix(name + "-") && podName.count == name.count + 6)
                #expect(pod["status"]["phase"] == "Succeeded")
                #expect(pod["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"])
                #expect(pod["metadata"]["labels"]["app"] == "x" && pod["metadata"]["labels"]["job-name"].string == name)
                let terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
                #expect(terminated["exitCode"] == 0 && terminated["reason"] == "Completed")
                #expect(terminated["startedAt"].string != nil && terminated["finishedAt"].string != nil)
                #expect(pod["status"]["startTime"].string != nil)

                let log = try await client.send(.GET, "/api/v1/namespaces/default/pods/\(podName)/log?container=runner")
                #expect(log.status == 200 && log.headers["Content-Type"].first?.hasPrefix("text/plain") == true)
                #expect(log.text.contains("data: {\"alert\":1}\n") && log.text.contains("token=s3cret\n") && log.text.contains("to stderr\n"))
                let tail = try await client.send(.GET, "/api/v1/namespaces/default/pods/\(podName)/log?tailLines=1")
                #expect(tail.text.split(separator: "\n").count == 1)
                let limited = try await client.send(.GET, "/api/v1/namespaces/default/pods/\(podName)/log?limitBytes=4")
                #expect(limited.text == "data")
            }
        }
    }

    @Test func failingScriptFailsJobQuicklyWithBackoffLimitZero() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                let created = try await client.send(.POST, Self.jobs, jobManifest(command: ["fail.sh"], backoffLimit: 0))
                let name = try #require(created.body["metadata"]["name"].string)
                // No retry pod and no back-off wait with backoffLimit 0: the Job fails with its one pod.
                try await waitUntil("the job to fail", timeout: .seconds(20), pollEvery: .milliseconds(5)) {
                    condition(try await Self.job(client, name), "Failed") != nil
                }
                let job = try await Self.job(client, name)
                let conditions = job["status"]["conditions"].array ?? []
                #expect(conditions.map { $0["type"].string ?? "" } == ["FailureTarget", "Failed"])
                #expect(conditions.allSatisfy { $0["reason"] == "BackoffLimitExceeded" })
                #expect(job["status"]["failed"] == 1 && job["status"]["completionTime"].isNull && job["status"]["active"].isNull)
                let pod = try #require(await emulator.objects(.pods, namespace: "default").first)
                #expect(pod["status"]["phase"] == "Failed")
                #expect(pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3)
                #expect(pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error")
                let log = try await client.send(.GET, "/api/v1/namespaces/default/pods/\(pod["metadata"]["name"].string!)/log")
                #expect(log.text == "failing\n")
            }
        }
    }

    @Test func retriesUpToBackoffLimitWithNewPods() async throws {
        try await Self.withImage { configuration, _ in
            var fast = configuration
            fast.retryBackoff = .milliseconds(20)
            try await withEmulator(kubelet: fast) { emulator, client in
                let created = try await client.send(.POST, Self.jobs, jobManifest(command: ["fail.sh"], backoffLimit: 2))
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("the job to fail") { condition(try await Self.job(client, name), "Failed") != nil }
                #expect(try await Self.job(client, name)["status"]["failed"] == 3)
                #expect(await emulator.objects(.pods, namespace: "default").count == 3)
            }
        }
    }

    @Test func unknownImageStaysPendingUntilTheDeadline() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                let created = try await client.send(.POST, Self.jobs, jobManifest(image: "registry.example.com/missing:1", command: ["x"], activeDeadlineSeconds: 8))
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("ImagePullBackOff") {
                    await emulator.objects(.pods, namespace: "default").first?["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
                }
                let pod = try #require(await emulator.objects(.pods, namespace: "default").first)
                #expect(pod["status"]["phase"] == "Pending")
                let log = try await client.send(.GET, "/api/v1/namespaces/default/pods/\(pod["metadata"]["name"].string!)/log")
                #expect(log.status == 400 && log.body["reason"] == "BadRequest")
                let running = try await Self.job(client, name)
                #expect(condition(running, "Failed") == nil && condition(running, "FailureTarget") == nil && running["status"]["active"] == 1)
                try await waitUntil("DeadlineExceeded") { condition(try await Self.job(client, name), "Failed") != nil }
                let failed = try await Self.job(client, name)
                #expect(condition(failed, "Failed")?["reason"] == "DeadlineExceeded")
                #expect(condition(failed, "FailureTarget")?["reason"] == "DeadlineExceeded")
                #expect(failed["status"]["failed"] == 1)
                #expect(await emulator.objects(.pods, namespace: "default").isEmpty, "the controller deletes active pods at the deadline")
            }
        }
    }

    @Test func activeDeadlineKillsTheProcessGroup() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                let created = try await client.send(.POST, Self.jobs, jobManifest(command: ["hang.sh"], activeDeadlineSeconds: 5))
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("the pod to run") { await emulator.runningProcessCount == 1 }
                let podName = try #require(await emulator.objects(.pods, namespace: "default").first?["metadata"]["name"].string)
                let pid = try #require(await emulator.processIDs(namespace: "default", pod: podName).first)
                try await waitUntil("sh to start its sleep") { liveProcesses(inGroup: pid).count == 2 }
                #expect(await emulator.object(.pods, namespace: "default", name: podName)?["status"]["phase"] == "Running")
                try await waitUntil("DeadlineExceeded", timeout: .seconds(30)) { condition(try await Self.job(client, name), "Failed") != nil }
                let job = try await Self.job(client, name)
                #expect(condition(job, "Failed")?["reason"] == "DeadlineExceeded")
                #expect(await emulator.runningProcessCount == 0)
                // The whole process group (sh and its sleep) is gone; only the reaping of orphans by init may lag.
                try await waitUntil("the process group to be gone", timeout: .seconds(5)) { liveProcesses(inGroup: pid).isEmpty }
                #expect(await emulator.objects(.pods, namespace: "default").isEmpty)
            }
        }
    }

    @Test func missingConfigMapWaitsInContainerCreating() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                let created = try await client.send(.POST, Self.jobs, jobManifest(command: ["show.sh", "/app/data.json"], configMap: "later"))
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("ContainerCreating") {
                    await emulator.objects(.pods, namespace: "default").first?["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
                }
                _ = try await client.send(.POST, "/api/v1/namespaces/default/configmaps", ["metadata": ["name": "later"], "data": ["data.json": "late"]])
                try await waitUntil("the job to complete") { condition(try await Self.job(client, name), "Complete") != nil }
                let podName = try #require(await emulator.objects(.pods, namespace: "default").first?["metadata"]["name"].string)
                #expect(try await client.send(.GET, "/api/v1/namespaces/default/pods/\(podName)/log").text.hasPrefix("data: late\n"))
            }
        }
    }

    @Test func deletingAJobInBackgroundKillsItsPods() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                let created = try await client.send(.POST, Self.jobs, jobManifest(command: ["hang.sh"]))
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("the pod to run") { await emulator.runningProcessCount == 1 }
                let deleted = try await client.send(.DELETE, "\(Self.jobs)/\(name)", ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"])
                #expect(deleted.status == 200 && deleted.body["kind"] == "Job")
                try await waitUntil("the process to be killed") { await emulator.runningProcessCount == 0 }
                try await waitUntil("the pod to go") { await emulator.objects(.pods, namespace: "default").isEmpty }
            }
        }
    }

    @Test func followLogsAndForegroundDeletion() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                let slow = try await client.send(.POST, Self.jobs, jobManifest(command: ["slow.sh"]))
                let slowName = try #require(slow.body["metadata"]["name"].string)
                // Wait for the pod, not for its process: a busy machine may let the short script finish first.
                try await waitUntil("the pod") { await !emulator.objects(.pods, namespace: "default").isEmpty }
                let podName = try #require(await emulator.objects(.pods, namespace: "default").first?["metadata"]["name"].string)
                let followed = try await client.send(.GET, "/api/v1/namespaces/default/pods/\(podName)/log?follow=true")
                #expect(followed.text == "one\ntwo\n")
                try await waitUntil("the job to complete") { condition(try await Self.job(client, slowName), "Complete") != nil }

                let hang = try await client.send(.POST, Self.jobs, jobManifest(command: ["hang.sh"]))
                let hangName = try #require(hang.body["metadata"]["name"].string)
                try await waitUntil("the pod to run") { await emulator.runningProcessCount == 1 }
                let deleted = try await client.send(.DELETE, "\(Self.jobs)/\(hangName)", ["propagationPolicy": "Foreground"])
                #expect(deleted.status == 200 && deleted.body["metadata"]["deletionTimestamp"].string != nil)
                #expect(deleted.body["metadata"]["finalizers"] == ["foregroundDeletion"])
                try await waitUntil("the job to go after its pod") { await emulator.object(.jobs, namespace: "default", name: hangName) == nil }
                #expect(await emulator.runningProcessCount == 0)
                #expect(await emulator.objects(.pods, namespace: "default").count == 1, "only the completed job's pod is left")
            }
        }
    }

    @Test func ttlAfterFinishedDeletesTheJobAndItsPods() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                var manifest = jobManifest(command: ["fail.sh"])
                manifest["spec"]["ttlSecondsAfterFinished"] = 0
                _ = try await client.send(.POST, Self.jobs, manifest)
                try await waitUntil("the job to be deleted") {
                    let jobs = await emulator.objects(.jobs, namespace: "default")
                    let pods = await emulator.objects(.pods, namespace: "default")
                    return jobs.isEmpty && pods.isEmpty
                }
            }
        }
    }

    @Test func suspendedJobStartsWhenResumed() async throws {
        try await Self.withImage { configuration, _ in
            try await withEmulator(kubelet: configuration) { emulator, client in
                var manifest = jobManifest(command: ["show.sh", "/app/data.json"], configMap: "data")
                manifest["spec"]["suspend"] = true
                let created = try await client.send(.POST, Self.jobs, manifest)
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("Suspended") { condition(try await Self.job(client, name), "Suspended") != nil }
                #expect(try await Self.job(client, name)["status"]["startTime"].isNull)
                #expect(await emulator.objects(.pods, namespace: "default").isEmpty)
                // Approach (b) of PROTOCOLS §3.3: the ConfigMap, owned by the Job, then resume.
                _ = try await client.send(.POST, "/api/v1/namespaces/default/configmaps", ["metadata": [
                    "name": "data", "ownerReferences": [["apiVersion": "batch/v1", "kind": "Job", "name": .string(name),
                                                         "uid": created.body["metadata"]["uid"], "controller": false, "blockOwnerDeletion": false]],
                ], "data": ["data.json": "resumed"]])
                let resumed = try await client.send(.PATCH, "\(Self.jobs)/\(name)", ["spec": ["suspend": false]], contentType: "application/merge-patch+json")
                #expect(resumed.status == 200)
                try await waitUntil("the job to complete") { condition(try await Self.job(client, name), "Complete") != nil }
                let suspended = (try await Self.job(client, name))["status"]["conditions"].array?.first { $0["type"] == "Suspended" }
                #expect(suspended?["status"] == "False" && suspended?["reason"] == "JobResumed")
                _ = try await client.send(.DELETE, "\(Self.jobs)/\(name)?propagationPolicy=Background")
                #expect(await emulator.objects(.configMaps, namespace: "default").isEmpty)
            }
        }
    }

    @Test func stopKillsPodProcesses() async throws {
        try await Self.withImage { configuration, _ in
            let emulator = try await KubernetesEmulator.start(kubelet: configuration)
            let client = try await TestClient(emulator)
            _ = try await client.send(.POST, Self.jobs, jobManifest(command: ["hang.sh"]))
            try await waitUntil("the pod to run") { await emulator.runningProcessCount == 1 }
            let podName = try #require(await emulator.objects(.pods, namespace: "default").first?["metadata"]["name"].string)
            let pid = try #require(await emulator.processIDs(namespace: "default", pod: podName).first)
            try await waitUntil("sh to start its sleep") { liveProcesses(inGroup: pid).count == 2 }
            await emulator.stop()
            try await client.shutdown()
            #expect(await emulator.runningProcessCount == 0)
            try await waitUntil("the process group to be gone", timeout: .seconds(5)) { liveProcesses(inGroup: pid).isEmpty }
        }
    }

    @Test func setPodStatusForCrashLoopBackOff() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.send(.POST, "/api/v1/namespaces/default/pods", [
                "metadata": ["name": "crashy"], "spec": ["containers": [["name": "c", "image": "x"]]],
            ])
            let watch = try await client.watch("/api/v1/namespaces/default/pods?watch=true&resourceVersion=\(await emulator.currentResourceVersion)")
            try await emulator.setPodStatus(namespace: "default", name: "crashy", status: [
                "phase": "Running",
                "containerStatuses": [["name": "c", "restartCount": 5, "ready": false,
                                       "state": ["waiting": ["reason": "CrashLoopBackOff", "message": "back-off 5m0s"]],
                                       "lastState": ["terminated": ["exitCode": 137, "reason": "OOMKilled"]]]],
            ])
            let events = try await watch.waitFor(1)
            #expect(events[0]["type"] == "MODIFIED")
            #expect(events[0]["object"]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff")
            await emulator.setPodLog(namespace: "default", name: "crashy", container: "c", log: "a\nb\n")
            #expect(try await client.send(.GET, "/api/v1/namespaces/default/pods/crashy/log?tailLines=1").text == "b\n")
            await watch.cancel()
        }
    }
}
