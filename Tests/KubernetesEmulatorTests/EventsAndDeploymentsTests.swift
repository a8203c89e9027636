import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// Events, Deployments and previous container logs: what a diagnosing recipe reads, held to the API's conventions.
@Suite struct EventsAndDeploymentsTests {
    static func event(_ name: String, pod: String, namespace: String = "default", type: String, reason: String,
                      message: String, component: String = "kubelet", last: String) -> JSON {
        ["metadata": ["name": .string(name)],
         "involvedObject": ["kind": "Pod", "namespace": .string(namespace), "name": .string(pod), "apiVersion": "v1"],
         "type": .string(type), "reason": .string(reason), "message": .string(message), "count": 1,
         "source": ["component": .string(component)], "firstTimestamp": .string(last), "lastTimestamp": .string(last)]
    }

    @Test func eventsAreListedByInvolvedObjectTypeAndSource() async throws {
        try await withEmulator { _, client in
            let events = "/api/v1/namespaces/default/events"
            for body in [
                Self.event("api-1.a", pod: "api-1", type: "Warning", reason: "BackOff", message: "Back-off restarting failed container",
                           last: "2026-01-01T10:00:00Z"),
                Self.event("api-1.b", pod: "api-1", type: "Normal", reason: "Pulled", message: "Successfully pulled image",
                           last: "2026-01-01T09:00:00Z"),
                Self.event("web-1.a", pod: "web-1", type: "Warning", reason: "FailedScheduling", message: "0/3 nodes are available",
                           component: "default-scheduler", last: "2026-01-01T10:00:00Z"),
            ] {
                let created = try await client.send(.POST, events, body)
                #expect(created.status == 201)
                #expect(created.body["kind"] == "Event" && created.body["apiVersion"] == "v1")
            }
            func names(_ selector: String) async throws -> [String] {
                let list = try await client.send(.GET, "\(events)?fieldSelector=\(selector)")
                #expect(list.status == 200 && list.body["kind"] == "EventList")
                return (list.body["items"].array ?? []).compactMap { $0["metadata"]["name"].string }
            }
            #expect(try await names("involvedObject.name%3Dapi-1") == ["api-1.a", "api-1.b"])
            #expect(try await names("involvedObject.kind%3DPod,involvedObject.name%3Dapi-1,type%3DWarning") == ["api-1.a"])
            #expect(try await names("source%3Ddefault-scheduler") == ["web-1.a"])
            #expect(try await names("reason!%3DBackOff") == ["api-1.b", "web-1.a"])

            let unsupported = try await client.send(.GET, "\(events)?fieldSelector=message%3Dx")
            #expect(unsupported.status == 400 && unsupported.body["message"] == "field label not supported: message")
        }
    }

    @Test func anEventLivesInItsObjectsNamespace() async throws {
        try await withEmulator(namespaces: ["default", "shop"]) { _, client in
            let elsewhere = Self.event("api-1.c", pod: "api-1", namespace: "shop", type: "Warning", reason: "BackOff",
                                       message: "x", last: "2026-01-01T10:00:00Z")
            let answer = try await client.send(.POST, "/api/v1/namespaces/default/events", elsewhere)
            #expect(answer.status == 422 && answer.body["reason"] == "Invalid")
            #expect(answer.body["details"]["causes"][0]["field"] == "involvedObject.namespace")
            #expect(answer.body["message"].string?.contains("does not match event.namespace") == true)
        }
    }

    static func deployment(labels: [String: String], selector: JSON) -> JSON {
        ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "api"],
         "spec": ["selector": selector,
                  "template": ["metadata": ["labels": .object(labels.mapValues { .string($0) })],
                               "spec": ["containers": [["name": "api", "image": "shop/api:1.2"]]]]]]
    }

    @Test func deploymentsAreDefaultedValidatedAndHaveAStatusSubresource() async throws {
        try await withEmulator { emulator, client in
            let path = "/apis/apps/v1/namespaces/default/deployments"
            let created = try await client.send(.POST, path, Self.deployment(
                labels: ["app": "api", "tier": "web"],
                selector: ["matchLabels": ["app": "api"], "matchExpressions": [["key": "tier", "operator": "In", "values": ["web"]]]]))
            #expect(created.status == 201)
            #expect(created.body["spec"]["replicas"] == 1 && created.body["spec"]["strategy"]["type"] == "RollingUpdate")
            #expect(created.body["spec"]["template"]["spec"]["restartPolicy"] == "Always")
            #expect(created.body["metadata"]["generation"] == 1 && created.body["status"] == [:])

            let mismatched = try await client.send(.POST, path, Self.deployment(labels: ["app": "web"], selector: ["matchLabels": ["app": "api"]]))
            #expect(mismatched.status == 422)
            #expect(mismatched.body["message"].string?.contains("`selector` does not match template `labels`") == true)
            let noSelector = try await client.send(.POST, path, Self.deployment(labels: ["app": "api"], selector: .null))
            #expect(noSelector.status == 422 && noSelector.body["details"]["causes"][0]["field"] == "spec.selector")

            // The deployment controller has written the Deployment since (revision, status): PUT the latest.
            var status = try await client.send(.GET, "\(path)/api").body
            #expect(status["metadata"]["resourceVersion"] != created.body["metadata"]["resourceVersion"])
            status["status"] = ["replicas": 3, "readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 2]
            let updated = try await client.send(.PUT, "\(path)/api/status", status)
            #expect(updated.status == 200 && updated.body["status"]["availableReplicas"] == 1)
            #expect(await emulator.object(.deployments, namespace: "default", name: "api")?["status"]["unavailableReplicas"] == 2)

            var changed = updated.body
            changed["spec"]["selector"] = ["matchLabels": ["app": "api", "tier": "web"]]
            let immutable = try await client.send(.PUT, "\(path)/api", changed)
            #expect(immutable.status == 422 && immutable.body["message"].string?.contains("field is immutable") == true)

            let discovery = try await client.send(.GET, "/apis/apps/v1")
            #expect((discovery.body["resources"].array ?? []).contains { $0["name"] == "deployments" && $0["kind"] == "Deployment" })
        }
    }

    @Test func deploymentsNeedTheirOwnPermission() async throws {
        try await withEmulator(permissions: .all.denying(verbs: ["get"], group: "apps", resources: ["deployments"])) { _, client in
            let answer = try await client.send(.GET, "/apis/apps/v1/namespaces/default/deployments/api")
            #expect(answer.status == 403)
            #expect(answer.body["message"].string?.contains(#"cannot get resource "deployments" in API group "apps""#) == true)
        }
    }

    @Test func previousLogsAreTheLastTerminatedInstances() async throws {
        try await withEmulator { emulator, client in
            _ = try await client.send(.POST, "/api/v1/namespaces/default/pods", [
                "metadata": ["name": "crashy"], "spec": ["containers": [["name": "c", "image": "x"]]],
            ])
            let log = "/api/v1/namespaces/default/pods/crashy/log"
            let none = try await client.send(.GET, "\(log)?previous=true")
            #expect(none.status == 400)
            #expect(none.body["message"] == #"previous terminated container "c" in pod "crashy" not found"#)
            await emulator.setPodLog(namespace: "default", name: "crashy", container: "c", log: "one\ntwo\npanic: boom\n", previous: true)
            await emulator.setPodLog(namespace: "default", name: "crashy", container: "c", log: "starting\n")
            #expect(try await client.send(.GET, "\(log)?previous=true&tailLines=2").text == "two\npanic: boom\n")
            #expect(try await client.send(.GET, "\(log)?previous=true&limitBytes=3").text == "one")
            #expect(try await client.send(.GET, log).text == "starting\n")
        }
    }
}
