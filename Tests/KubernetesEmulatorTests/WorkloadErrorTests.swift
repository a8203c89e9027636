import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// The 4xx answers of the workload and networking resources: the Scale subresource, Services, EndpointSlices,
/// NetworkPolicies, ReplicaSets, unknown resources, and pod deletion with preconditions and dry runs.
@Suite struct WorkloadErrorTests {
    static let web = "/apis/apps/v1/namespaces/shop/deployments/web"

    @Test func scaleRefusesBadBodiesTypesAndVerbs() async throws {
        try await withEmulator(namespaces: ["shop"]) { emulator, client in
            try await emulator.seed(.deployments, namespace: "shop", WorkloadTests.deployment())
            let text = try await client.send(.PATCH, "\(Self.web)/scale", ["spec": ["replicas": "three"]], contentType: "application/merge-patch+json")
            #expect(text.status == 400 && text.body["reason"] == "BadRequest")
            #expect(text.body["message"].string?.contains("cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32") == true)
            let array = try await client.send(.PUT, "\(Self.web)/scale", ["not", "an", "object"])
            #expect(array.status == 400)
            let negative = try await client.send(.PATCH, "\(Self.web)/scale", ["spec": ["replicas": -1]], contentType: "application/merge-patch+json")
            #expect(negative.status == 422 && negative.body["reason"] == "Invalid")
            #expect(negative.body["details"]["kind"] == "Scale" && negative.body["details"]["causes"][0]["field"] == "spec.replicas")
            let wrongKind = try await client.send(.PUT, "\(Self.web)/scale", ["kind": "Deployment", "spec": ["replicas": 1]])
            #expect(wrongKind.status == 400)
            let type = try await client.send(.PATCH, "\(Self.web)/scale", ["spec": ["replicas": 1]], contentType: "application/apply-patch+yaml")
            #expect(type.status == 415 && type.body["reason"] == "UnsupportedMediaType")
            let missing = try await client.send(.GET, "/apis/apps/v1/namespaces/shop/deployments/nope/scale")
            #expect(missing.status == 404 && missing.body["message"] == #"deployments.apps "nope" not found"#)
            #expect(try await client.send(.DELETE, "\(Self.web)/scale").status == 405)
            #expect(try await client.send(.GET, "/apis/apps/v1/namespaces/shop/statefulsets/web/scale").status == 404)
            #expect(try await client.send(.GET, "/api/v1/namespaces/shop/pods/web/scale").status == 404)
            #expect(await emulator.object(.deployments, namespace: "shop", name: "web")?["spec"]["replicas"] == 2)
        }
    }

    @Test func scaleNeedsTheScalePermission() async throws {
        let permissions = Permissions.all.denying(verbs: ["patch", "update"], group: "apps", resources: ["deployments/scale"])
        try await withEmulator(namespaces: ["shop"], permissions: permissions) { emulator, client in
            try await emulator.seed(.deployments, namespace: "shop", WorkloadTests.deployment())
            #expect(try await client.send(.GET, "\(Self.web)/scale").status == 200)
            let denied = try await client.send(.PATCH, "\(Self.web)/scale", ["spec": ["replicas": 1]], contentType: "application/merge-patch+json")
            #expect(denied.status == 403 && denied.body["reason"] == "Forbidden")
            #expect(denied.body["message"].string?.contains(#"cannot patch resource "deployments/scale" in API group "apps""#) == true)
            // The Deployment itself stays patchable.
            #expect(try await client.send(.PATCH, Self.web, ["spec": ["replicas": 1]], contentType: "application/merge-patch+json").status == 200)
        }
    }

    @Test func invalidServicesSlicesAndPoliciesAnswer422() async throws {
        try await withEmulator(namespaces: ["shop"]) { _, client in
            let services = "/api/v1/namespaces/shop/services"
            let unnamed = try await client.send(.POST, services, NetworkingTests.service(ports: [["port": 80], ["port": 443]]))
            #expect(unnamed.status == 422 && unnamed.body["reason"] == "Invalid")
            #expect(unnamed.body["details"]["causes"].array?.compactMap { $0["field"].string } == ["spec.ports[0].name", "spec.ports[1].name"])
            #expect(unnamed.body["message"].string?.hasPrefix(#"Service "web" is invalid"#) == true)
            let duplicate = try await client.send(.POST, services, NetworkingTests.service(ports: [["name": "http", "port": 80], ["name": "http", "port": 81]]))
            #expect(duplicate.status == 422 && duplicate.body["details"]["causes"][0]["reason"] == "FieldValueDuplicate")
            let port = try await client.send(.POST, services, NetworkingTests.service(ports: [["port": 0]]))
            #expect(port.status == 422 && port.body["details"]["causes"][0]["field"] == "spec.ports[0].port")
            let target = try await client.send(.POST, services, NetworkingTests.service(ports: [["port": 80, "targetPort": "HTTP_PORT"]]))
            #expect(target.status == 422 && target.body["details"]["causes"][0]["field"] == "spec.ports[0].targetPort")
            let noPorts = try await client.send(.POST, services, NetworkingTests.service(ports: []))
            #expect(noPorts.status == 422 && noPorts.body["details"]["causes"][0]["field"] == "spec.ports")
            let type = try await client.send(.POST, services, {
                var service = NetworkingTests.service(ports: [["port": 80]])
                service["spec"]["type"] = "Magic"
                return service
            }())
            #expect(type.status == 422 && type.body["details"]["causes"][0]["reason"] == "FieldValueNotSupported")

            let slices = "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"
            let noType = try await client.send(.POST, slices, ["metadata": ["name": "manual"], "endpoints": [["addresses": ["10.0.0.1"]]]])
            #expect(noType.status == 422 && noType.body["details"]["causes"][0]["field"] == "addressType")
            let noAddress = try await client.send(.POST, slices, ["metadata": ["name": "manual"], "addressType": "IPv4", "endpoints": [["conditions": [:]]]])
            #expect(noAddress.status == 422 && noAddress.body["details"]["causes"][0]["field"] == "endpoints[0].addresses")

            let policies = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"
            let endPort = try await client.send(.POST, policies, ["metadata": ["name": "p"], "spec": [
                "podSelector": [:], "ingress": [["ports": [["port": "http", "endPort": 9000]]]],
            ]])
            #expect(endPort.status == 422 && endPort.body["details"]["causes"][0]["field"] == "spec.ingress[0].ports[0].endPort")
            let peers = try await client.send(.POST, policies, ["metadata": ["name": "p"], "spec": [
                "podSelector": [:], "ingress": [["from": [["ipBlock": ["cidr": "10.0.0.0/8"], "podSelector": [:]]]]],
            ]])
            #expect(peers.status == 422 && peers.body["details"]["causes"][0]["reason"] == "FieldValueForbidden")
            let types = try await client.send(.POST, policies, ["metadata": ["name": "p"], "spec": ["podSelector": [:], "policyTypes": ["Both"]]])
            #expect(types.status == 422 && types.body["details"]["causes"][0]["field"] == "spec.policyTypes[0]")
        }
    }

    @Test func replicaSetsAreValidatedAndTheirSelectorIsImmutable() async throws {
        try await withEmulator(namespaces: ["shop"]) { _, client in
            let path = "/apis/apps/v1/namespaces/shop/replicasets"
            var manifest = WorkloadTests.deployment("cache", replicas: 1)
            manifest["kind"] = "ReplicaSet"
            var mismatched = manifest
            mismatched["spec"]["template"]["metadata"]["labels"] = ["app": "other"]
            let refused = try await client.send(.POST, path, mismatched)
            #expect(refused.status == 422 && refused.body["message"].string?.contains("`selector` does not match template `labels`") == true)
            let created = try await client.send(.POST, path, manifest)
            #expect(created.status == 201 && created.body["status"] == ["replicas": 0] && created.body["metadata"]["generation"] == 1)
            // The replica-set controller has written its status since: change the latest.
            var changed = try await client.send(.GET, "\(path)/cache").body
            changed["spec"]["selector"] = ["matchLabels": ["app": "cache", "tier": "x"]]
            changed["spec"]["template"]["metadata"]["labels"] = ["app": "cache", "tier": "x"]
            let immutable = try await client.send(.PUT, "\(path)/cache", changed)
            #expect(immutable.status == 422 && immutable.body["details"]["causes"][0]["field"] == "spec.selector")
        }
    }

    @Test func unknownResourcesAndVersionsAre404() async throws {
        try await withEmulator(namespaces: ["shop"]) { _, client in
            for path in ["/apis/networking.k8s.io/v1/namespaces/shop/ingresses", "/apis/discovery.k8s.io/v1beta1/namespaces/shop/endpointslices",
                         "/api/v1/namespaces/shop/endpoints", "/apis/apps/v1/namespaces/shop/controllerrevisions", "/apis/autoscaling/v1"] {
                let answer = try await client.send(.GET, path)
                #expect(answer.status == 404 && answer.body["reason"] == "NotFound", "\(path)")
            }
            let missing = try await client.send(.GET, "/api/v1/namespaces/shop/services/nope")
            #expect(missing.status == 404 && missing.body["message"] == #"services "nope" not found"#)
            let slice = try await client.send(.GET, "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/nope")
            #expect(slice.status == 404 && slice.body["message"] == #"endpointslices.discovery.k8s.io "nope" not found"#)
            let namespace = try await client.send(.GET, "/api/v1/namespaces/nope")
            #expect(namespace.status == 404)
            let badSelector = try await client.send(.GET, "/api/v1/namespaces?labelSelector=a%20b%20c")
            #expect(badSelector.status == 400)
        }
    }

    @Test func deletingAReplicaSetPodChecksItsUIDHonoursDryRunAndTheReplicaSetReplacesIt() async throws {
        try await withEmulator(namespaces: ["shop"], kubelet: WorkloadTests.kubelet) { emulator, client in
            try await emulator.seed(.deployments, namespace: "shop", WorkloadTests.deployment(replicas: 1))
            try await WorkloadTests.eventually("the rollout") { WorkloadTests.rolledOut(await emulator.object(.deployments, namespace: "shop", name: "web")) }
            let pod = try #require(await WorkloadTests.livePods(emulator).first)
            let name = pod["metadata"]["name"].string ?? ""
            let uid = pod["metadata"]["uid"].string ?? ""
            let path = "/api/v1/namespaces/shop/pods/\(name)"
            let stale = try await client.send(.DELETE, path, ["kind": "DeleteOptions", "apiVersion": "v1", "preconditions": ["uid": "0000"]])
            #expect(stale.status == 409 && stale.body["reason"] == "Conflict")
            let dryRun = try await client.send(.DELETE, "\(path)?dryRun=All", ["kind": "DeleteOptions", "apiVersion": "v1", "preconditions": ["uid": .string(uid)]])
            #expect(dryRun.status == 200 && dryRun.body["metadata"]["deletionTimestamp"].isNull)
            #expect(await emulator.object(.pods, namespace: "shop", name: name)?["metadata"]["deletionTimestamp"].isNull == true)
            let deleted = try await client.send(.DELETE, path, ["kind": "DeleteOptions", "apiVersion": "v1", "preconditions": ["uid": .string(uid)]])
            #expect(deleted.status == 200)
            try await WorkloadTests.eventually("a replacement pod, Ready") {
                let pods = await WorkloadTests.livePods(emulator)
                let deployment = await emulator.object(.deployments, namespace: "shop", name: "web")
                return pods.count == 1 && pods[0]["metadata"]["uid"].string != uid && WorkloadTests.rolledOut(deployment)
            }
        }
    }
}
