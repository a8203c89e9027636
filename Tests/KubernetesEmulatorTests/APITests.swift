import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOHTTP1
import Testing

@Suite struct APITests {
    static let cmPath = "/api/v1/namespaces/default/configmaps"

    @Test func createWithGenerateNameThenGetListAndErrors() async throws {
        try await withEmulator { emulator, client in
            let created = try await client.send(.POST, Self.cmPath, [
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": ["generateName": "alert-09f827451c0fe9f3-", "labels": ["app": "x"]],
                "data": ["alert.json": "{}"],
            ])
            #expect(created.status == 201)
            let name = try #require(created.body["metadata"]["name"].string)
            #expect(name.hasPrefix("alert-09f827451c0fe9f3-") && name.count == "alert-09f827451c0fe9f3-".count + 5)
            #expect(name.dropFirst(23).allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
            #expect(created.body["metadata"]["uid"].string?.count == 36)
            #expect(created.body["metadata"]["namespace"] == "default")
            let stamp = try #require(created.body["metadata"]["creationTimestamp"].string)
            #expect(stamp.count == 20 && stamp.hasSuffix("Z"))
            #expect(created.body["metadata"]["resourceVersion"].string != nil)

            // generateName truncates the prefix to 58.
            let long = try await client.send(.POST, Self.cmPath, ["metadata": ["generateName": .string(String(repeating: "a", count: 70))]])
            #expect(long.status == 201)
            #expect(long.body["metadata"]["name"].string?.count == 63)

            let got = try await client.send(.GET, "\(Self.cmPath)/\(name)")
            #expect(got.status == 200 && got.body["kind"] == "ConfigMap" && got.body["data"]["alert.json"] == "{}")

            // 409 AlreadyExists
            let duplicate = try await client.send(.POST, Self.cmPath, ["metadata": ["name": .string(name)]])
            #expect(duplicate.status == 409)
            #expect(duplicate.body["kind"] == "Status" && duplicate.body["apiVersion"] == "v1" && duplicate.body["status"] == "Failure")
            #expect(duplicate.body["reason"] == "AlreadyExists" && duplicate.body["code"] == 409)
            #expect(duplicate.body["details"]["name"].string == name && duplicate.body["details"]["kind"] == "configmaps")

            // 404 NotFound (object, and namespace on create)
            let missing = try await client.send(.GET, "\(Self.cmPath)/nope")
            #expect(missing.status == 404 && missing.body["reason"] == "NotFound" && missing.body["details"]["name"] == "nope")
            let missingJob = try await client.send(.GET, "/apis/batch/v1/namespaces/default/jobs/nope")
            #expect(missingJob.body["message"] == "jobs.batch \"nope\" not found" && missingJob.body["details"]["group"] == "batch")
            let noNamespace = try await client.send(.POST, "/api/v1/namespaces/elsewhere/configmaps", ["metadata": ["name": "a"]])
            #expect(noNamespace.status == 404 && noNamespace.body["details"]["kind"] == "namespaces")

            // 422 Invalid
            let badName = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "Bad_Name"]])
            #expect(badName.status == 422 && badName.body["reason"] == "Invalid")
            #expect(badName.body["details"]["kind"] == "ConfigMap")
            #expect(badName.body["details"]["causes"][0]["field"] == "metadata.name")
            #expect(badName.body["details"]["causes"][0]["reason"] == "FieldValueInvalid")
            let badLabel = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "ok", "labels": ["alertname": "Pod Crash/Looping"]]])
            #expect(badLabel.status == 422 && badLabel.body["details"]["causes"][0]["field"] == "metadata.labels")
            let badKey = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "ok"], "data": ["bad key": "x"]])
            #expect(badKey.status == 422 && badKey.body["details"]["causes"][0]["field"] == "data[bad key]")
            let huge = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "huge"], "data": ["a": .string(String(repeating: "x", count: 1_048_577))]])
            #expect(huge.status == 422)
            let longJob = try await client.send(.POST, "/apis/batch/v1/namespaces/default/jobs", {
                var job = jobManifest(command: ["true"])
                job["metadata"] = ["name": .string(String(repeating: "j", count: 64))]
                return job
            }())
            #expect(longJob.status == 422 && longJob.body["details"]["causes"][0]["field"] == "spec.template.labels")
            #expect(longJob.body["details"]["group"] == "batch" && longJob.body["details"]["kind"] == "Job")
            let always = try await client.send(.POST, "/apis/batch/v1/namespaces/default/jobs", {
                var job = jobManifest(command: ["true"])
                job["spec"]["template"]["spec"]["restartPolicy"] = "Always"
                return job
            }())
            #expect(always.status == 422 && always.body["details"]["causes"][0]["field"] == "spec.template.spec.restartPolicy")
            #expect(always.body["details"]["causes"][0]["reason"] == "FieldValueNotSupported")

            // 401 Unauthorized: no token, wrong token, rotated token.
            let anonymous = try await client.send(.GET, Self.cmPath, token: .some(nil))
            #expect(anonymous.status == 401 && anonymous.body["reason"] == "Unauthorized" && anonymous.body["code"] == 401)
            let old = await emulator.validToken()
            let new = await emulator.rotateToken()
            #expect(try await client.send(.GET, Self.cmPath, token: old).status == 401)
            #expect(try await client.send(.GET, Self.cmPath, token: new).status == 200)

            // 403 Forbidden, and SelfSubjectAccessReview agrees.
            await emulator.setPermissions(.reconciler())
            let forbidden = try await client.send(.GET, "/api/v1/namespaces/default/secrets", token: new)
            #expect(forbidden.status == 403 && forbidden.body["reason"] == "Forbidden" && forbidden.body["details"]["kind"] == "secrets")
            #expect(forbidden.body["message"].string?.contains("cannot list resource \"secrets\" in API group \"\" in the namespace \"default\"") == true)
            let review = try await client.send(.POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", [
                "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": ["resourceAttributes": ["namespace": "default", "verb": "deletecollection", "group": "batch", "resource": "jobs"]],
            ], token: new)
            #expect(review.status == 201 && review.body["status"]["allowed"] == true)
            #expect(review.body["spec"]["resourceAttributes"]["verb"] == "deletecollection")
            await emulator.setPermissions(.reconciler().denying(verbs: ["deletecollection"], group: "batch", resources: ["jobs"]))
            let denied = try await client.send(.POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", [
                "spec": ["resourceAttributes": ["namespace": "default", "verb": "deletecollection", "group": "batch", "resource": "jobs"]],
            ], token: new)
            #expect(denied.body["status"]["allowed"] == false)
            #expect(try await client.send(.DELETE, "/apis/batch/v1/namespaces/default/jobs", token: new).status == 403)
            let logReview = try await client.send(.POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", [
                "spec": ["resourceAttributes": ["namespace": "default", "verb": "get", "resource": "pods", "subresource": "log"]],
            ], token: new)
            #expect(logReview.body["status"]["allowed"] == true)
        }
    }

    @Test func listWithEverySelectorFormAndPaging() async throws {
        try await withEmulator { emulator, client in
            let labelSets: [[String: String]] = [["app": "a", "tier": "web"], ["app": "b", "tier": "db"], ["app": "c"], ["other": "x"]]
            for (index, labels) in labelSets.enumerated() {
                _ = try await client.send(.POST, Self.cmPath, ["metadata": ["name": .string("cm\(index)"), "labels": .object(labels.mapValues { .string($0) })]])
            }
            func names(_ selector: String) async throws -> [String] {
                let encoded = selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let reply = try await client.send(.GET, "\(Self.cmPath)?labelSelector=\(encoded)")
                #expect(reply.status == 200, "\(selector): \(reply.text)")
                return (reply.body["items"].array ?? []).compactMap { $0["metadata"]["name"].string }
            }
            #expect(try await names("app=a") == ["cm0"])
            #expect(try await names("app==b") == ["cm1"])
            #expect(try await names("app!=a") == ["cm1", "cm2", "cm3"])
            #expect(try await names("app in (a,c)") == ["cm0", "cm2"])
            #expect(try await names("app notin (a, c)") == ["cm1", "cm3"])
            #expect(try await names("tier") == ["cm0", "cm1"])
            #expect(try await names("!tier") == ["cm2", "cm3"])
            #expect(try await names("app,!tier") == ["cm2"])
            #expect(try await names("app in (a,b),tier=db") == ["cm1"])
            let bad = try await client.send(.GET, "\(Self.cmPath)?labelSelector=app%20in%20a")
            #expect(bad.status == 400 && bad.body["reason"] == "BadRequest")

            let list = try await client.send(.GET, Self.cmPath)
            #expect(list.body["kind"] == "ConfigMapList" && list.body["apiVersion"] == "v1")
            #expect(list.body["metadata"]["resourceVersion"].string == (await emulator.currentResourceVersion))
            #expect(list.body["items"][0]["kind"].isNull && list.body["items"][0]["apiVersion"].isNull)

            let page1 = try await client.send(.GET, "\(Self.cmPath)?limit=3")
            #expect(page1.body["items"].array?.count == 3)
            let token = try #require(page1.body["metadata"]["continue"].string)
            let page2 = try await client.send(.GET, "\(Self.cmPath)?limit=3&continue=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            #expect(page2.body["items"].array?.map { $0["metadata"]["name"] } == ["cm3"])
            #expect(page2.body["metadata"]["continue"].isNull)

            let byField = try await client.send(.GET, "\(Self.cmPath)?fieldSelector=metadata.name%3Dcm2")
            #expect(byField.body["items"].array?.count == 1)
        }
    }

    @Test func updateConflictPatchAndLeases() async throws {
        try await withEmulator { emulator, client in
            // Unknown fields: dropped with a Warning by default, 400 with fieldValidation=Strict (as the real server).
            let strict = try await client.send(.POST, "\(Self.cmPath)?fieldValidation=Strict", ["metadata": ["name": "c"], "extra": true])
            #expect(strict.status == 400 && strict.body["message"].string?.contains("strict decoding error: unknown field \"extra\"") == true)
            let created = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "c", "labels": ["a": "1"]], "data": ["k": "v"], "extra": ["unknown": true]])
            #expect(created.status == 201 && created.body["extra"].isNull)
            #expect(created.headers["Warning"].first == "299 - \"unknown field \\\"extra\\\"\"")
            var object = created.body
            object["data"]["k"] = "v2"
            let updated = try await client.send(.PUT, "\(Self.cmPath)/c", object)
            #expect(updated.status == 200 && updated.body["data"]["k"] == "v2")
            #expect(updated.body["metadata"]["resourceVersion"] != created.body["metadata"]["resourceVersion"])
            let stale = try await client.send(.PUT, "\(Self.cmPath)/c", object)
            #expect(stale.status == 409 && stale.body["reason"] == "Conflict")

            let merged = try await client.send(.PATCH, "\(Self.cmPath)/c", ["metadata": ["labels": ["a": nil, "b": "2"]], "data": ["k2": "x"]],
                                               contentType: "application/merge-patch+json")
            #expect(merged.status == 200 && merged.body["metadata"]["labels"] == ["b": "2"] && merged.body["data"]["k"] == "v2")
            let jsonPatched = try await client.send(.PATCH, "\(Self.cmPath)/c", [["op": "replace", "path": "/data/k", "value": "v3"]],
                                                    contentType: "application/json-patch+json")
            #expect(jsonPatched.body["data"]["k"] == "v3")
            let unsupported = try await client.send(.PATCH, "\(Self.cmPath)/c", [:], contentType: "application/json")
            #expect(unsupported.status == 415 && unsupported.body["reason"] == "UnsupportedMediaType")
            let stalePatch = try await client.send(.PATCH, "\(Self.cmPath)/c", ["metadata": ["resourceVersion": "1"]], contentType: "application/merge-patch+json")
            #expect(stalePatch.status == 409 && stalePatch.body["reason"] == "Conflict")

            // ConfigMap DELETE answers a Status (ReturnDeletedObject is false for configmaps, as on a real server).
            let deleted = try await client.send(.DELETE, "\(Self.cmPath)/c")
            #expect(deleted.status == 200 && deleted.body["kind"] == "Status" && deleted.body["status"] == "Success")

            let leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
            #expect(try await client.send(.GET, "\(leases)/leader").status == 404)
            let lease = try await client.send(.POST, leases, ["metadata": ["name": "leader"], "spec": [
                "holderIdentity": "me", "leaseDurationSeconds": 15, "acquireTime": "2026-11-28T21:13:44.511671Z",
                "renewTime": "2026-11-28T21:13:44.511671Z", "leaseTransitions": 0,
            ]])
            #expect(lease.status == 201 && lease.body["spec"]["renewTime"] == "2026-11-28T21:13:44.511671Z")
            var renewed = lease.body
            renewed["spec"]["renewTime"] = "2026-11-28T21:13:46.000001Z"
            #expect(try await client.send(.PUT, "\(leases)/leader", renewed).status == 200)
            #expect(try await client.send(.PUT, "\(leases)/leader", renewed).status == 409)
            #expect(await emulator.objects(.leases, namespace: "default").count == 1)
            // MicroTime needs exactly 6 fractional digits (what ISO8601DateFormatter's 3 would break).
            let millis = try await client.send(.POST, leases, ["metadata": ["name": "other"], "spec": ["renewTime": "2026-11-28T21:13:44.511Z"]])
            #expect(millis.status == 400 && millis.body["reason"] == "BadRequest")
        }
    }

    @Test func deleteCollectionWithPropagation() async throws {
        try await withEmulator { emulator, client in
            let jobs = "/apis/batch/v1/namespaces/default/jobs"
            func makeJob(_ name: String, fingerprint: String) async throws -> JSON {
                var job = jobManifest(command: ["true"], labels: ["fp": fingerprint])
                job["metadata"] = ["name": .string(name), "labels": ["fp": .string(fingerprint)]]
                let reply = try await client.send(.POST, jobs, job)
                #expect(reply.status == 201)
                #expect(reply.body["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == reply.body["metadata"]["uid"])
                let labels = reply.body["spec"]["template"]["metadata"]["labels"]
                #expect(labels["batch.kubernetes.io/job-name"].string == name && labels["job-name"].string == name)
                #expect(labels["controller-uid"] == reply.body["metadata"]["uid"])
                #expect(reply.body["spec"]["backoffLimit"] == 0 && reply.body["spec"]["completions"] == 1)
                // Without a kubelet nothing runs: make a pod by hand, owned by the job.
                let pod = try await client.send(.POST, "/api/v1/namespaces/default/pods", [
                    "metadata": ["name": .string("\(name)-pod"), "labels": ["job-name": .string(name)],
                                 "ownerReferences": [["apiVersion": "batch/v1", "kind": "Job", "name": .string(name),
                                                      "uid": reply.body["metadata"]["uid"], "controller": true]]],
                    "spec": ["restartPolicy": "Never", "containers": [["name": "c", "image": "busybox"]]],
                ])
                #expect(pod.status == 201 && pod.body["status"]["phase"] == "Pending")
                return reply.body
            }
            _ = try await makeJob("j1", fingerprint: "a")
            _ = try await makeJob("j2", fingerprint: "a")
            _ = try await makeJob("j3", fingerprint: "b")

            // Background: jobs and their pods go.
            let background = try await client.send(.DELETE, "\(jobs)?labelSelector=fp%3Da", ["apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"])
            #expect(background.status == 200 && background.body["kind"] == "JobList")
            #expect(background.body["items"].array?.compactMap { $0["metadata"]["name"].string } == ["j1", "j2"])
            #expect(background.headers["Warning"].isEmpty)
            let pods = await emulator.objects(.pods, namespace: "default").compactMap { $0["metadata"]["name"].string }
            #expect(pods == ["j3-pod"])

            // Default for batch/v1 Jobs: orphan, with a Warning; the pod stays, without its ownerReference.
            let orphan = try await client.send(.DELETE, "\(jobs)?labelSelector=fp%3Db")
            #expect(orphan.status == 200 && orphan.body["items"].array?.count == 1)
            #expect(orphan.headers["Warning"].first?.contains("child pods are preserved by default") == true)
            let kept = try #require(await emulator.object(.pods, namespace: "default", name: "j3-pod"))
            #expect(kept["metadata"]["ownerReferences"].isNull)
            #expect(await emulator.objects(.jobs, namespace: "default").isEmpty)

            // Single delete of a Job answers the Job; Foreground via the query.
            _ = try await makeJob("j4", fingerprint: "c")
            let single = try await client.send(.DELETE, "\(jobs)/j4?propagationPolicy=Foreground")
            #expect(single.status == 200 && single.body["kind"] == "Job" && single.body["metadata"]["name"] == "j4")
            #expect(await emulator.object(.pods, namespace: "default", name: "j4-pod") == nil)
            #expect(await emulator.object(.jobs, namespace: "default", name: "j4") == nil)
        }
    }

    @Test func ownerReferenceGarbageCollection() async throws {
        try await withEmulator { emulator, client in
            let configMap = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "alert"]])
            var job = jobManifest(command: ["true"])
            job["metadata"]["ownerReferences"] = [["apiVersion": "v1", "kind": "ConfigMap", "name": "alert",
                                                   "uid": configMap.body["metadata"]["uid"], "controller": false, "blockOwnerDeletion": false]]
            let createdJob = try await client.send(.POST, "/apis/batch/v1/namespaces/default/jobs", job)
            #expect(createdJob.status == 201)
            let jobName = try #require(createdJob.body["metadata"]["name"].string)
            _ = try await client.send(.POST, "/api/v1/namespaces/default/pods", [
                "metadata": ["name": "p", "ownerReferences": [["apiVersion": "batch/v1", "kind": "Job", "name": .string(jobName),
                                                               "uid": createdJob.body["metadata"]["uid"], "controller": true]]],
                "spec": ["containers": [["name": "c", "image": "busybox"]]],
            ])
            #expect(try await client.send(.DELETE, "\(Self.cmPath)/alert").status == 200)
            #expect(await emulator.objects(.jobs, namespace: "default").isEmpty)
            #expect(await emulator.objects(.pods, namespace: "default").isEmpty)

            // An object whose owner does not exist is collected.
            _ = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "dangling", "ownerReferences": [
                ["apiVersion": "batch/v1", "kind": "Job", "name": "gone", "uid": "00000000-0000-0000-0000-000000000000"],
            ]]])
            try await waitUntil("dangling configmap collected") { await emulator.object(.configMaps, namespace: "default", name: "dangling") == nil }

            // PATCH-ing an ownerReference in (approach (a) of PROTOCOLS §3.3) keeps the object while the owner lives.
            let owner = try await client.send(.POST, "/apis/batch/v1/namespaces/default/jobs", jobManifest(command: ["true"]))
            _ = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "owned"]])
            let patched = try await client.send(.PATCH, "\(Self.cmPath)/owned", ["metadata": ["ownerReferences": [[
                "apiVersion": "batch/v1", "kind": "Job", "name": owner.body["metadata"]["name"], "uid": owner.body["metadata"]["uid"],
                "controller": false, "blockOwnerDeletion": false,
            ]]]], contentType: "application/merge-patch+json")
            #expect(patched.status == 200)
            _ = try await client.send(.DELETE, "/apis/batch/v1/namespaces/default/jobs/\(owner.body["metadata"]["name"].string!)",
                                      ["propagationPolicy": "Background"])
            #expect(await emulator.object(.configMaps, namespace: "default", name: "owned") == nil)
        }
    }

    @Test func aSecretOwnedByAConfigMapGoesWithItAndTheReconcilerOnlyMakesSecrets() async throws {
        try await withEmulator { emulator, client in
            let secrets = "/api/v1/namespaces/default/secrets"
            await emulator.setPermissions(.reconciler())
            let configMap = try await client.send(.POST, Self.cmPath, ["metadata": ["generateName": "euphrosyne-data-",
                                                                                   "labels": ["uuid": "u1"]]])
            let name = try #require(configMap.body["metadata"]["name"].string)
            let created = try await client.send(.POST, secrets, [
                "metadata": ["name": .string(name), "labels": ["uuid": "u1"],
                             "ownerReferences": [["apiVersion": "v1", "kind": "ConfigMap", "name": .string(name),
                                                  "uid": configMap.body["metadata"]["uid"], "controller": false,
                                                  "blockOwnerDeletion": false]]],
                "type": "Opaque", "data": ["result-key": "c2VjcmV0"],
            ])
            #expect(created.status == 201, "\(created.text)")
            // Made, never read: the reconciler's Role has no get, list or watch on Secrets.
            #expect(try await client.send(.GET, "\(secrets)/\(name)").status == 403)
            #expect(try await client.send(.GET, secrets).status == 403)
            #expect(await emulator.object(.secrets, namespace: "default", name: name)?["data"]["result-key"] == "c2VjcmV0")

            // Deleting the owner ConfigMap collects the Secret.
            #expect(try await client.send(.DELETE, "\(Self.cmPath)/\(name)").status == 200)
            #expect(await emulator.object(.secrets, namespace: "default", name: name) == nil)

            // Nor delete them: a delete's answer holds what it deleted, contents included.
            _ = try await client.send(.POST, secrets, ["metadata": ["name": "left", "labels": ["uuid": "u2"]]])
            #expect(try await client.send(.DELETE, "\(secrets)?labelSelector=uuid%3Du2").status == 403)
            #expect(try await client.send(.DELETE, "\(secrets)/left").status == 403)
            #expect(await emulator.object(.secrets, namespace: "default", name: "left") != nil)
        }
    }

    @Test func watchEventsBookmarksAndExpiry() async throws {
        try await withEmulator(options: .init(bookmarkInterval: nil)) { emulator, client in
            _ = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "before", "labels": ["app": "x"]]])
            let list = try await client.send(.GET, Self.cmPath)
            let listVersion = try #require(list.body["metadata"]["resourceVersion"].string)

            // From a resourceVersion: only later changes.
            let watch = try await client.watch("\(Self.cmPath)?watch=true&resourceVersion=\(listVersion)&allowWatchBookmarks=true&labelSelector=app%3Dx")
            #expect(watch.status == 200)
            let created = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "w", "labels": ["app": "x"]]])
            _ = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "unrelated"]])
            _ = try await client.send(.PATCH, "\(Self.cmPath)/w", ["data": ["a": "b"]], contentType: "application/merge-patch+json")
            _ = try await client.send(.PATCH, "\(Self.cmPath)/w", ["metadata": ["labels": ["app": "y"]]], contentType: "application/merge-patch+json")
            await emulator.sendBookmarks()
            var events = try await watch.waitFor(4)
            #expect(events.map { $0["type"].string ?? "" } == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"])
            #expect(events[0]["object"]["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"])
            #expect(events[0]["object"]["kind"] == "ConfigMap" && events[0]["object"]["apiVersion"] == "v1")
            #expect(events[3]["object"]["metadata"]["resourceVersion"].string == (await emulator.currentResourceVersion))
            _ = try await client.send(.DELETE, "\(Self.cmPath)/before")
            events = try await watch.waitFor(5)
            #expect(events[4]["type"] == "DELETED" && events[4]["object"]["metadata"]["name"] == "before")
            await watch.cancel()

            // Unset resourceVersion: synthetic ADDED for what exists.
            let fresh = try await client.watch("\(Self.cmPath)?watch=1&timeoutSeconds=1")
            let initial = try await fresh.waitFor(2)
            #expect(Set(initial.compactMap { $0["object"]["metadata"]["name"].string }) == ["w", "unrelated"])
            #expect(initial.allSatisfy { $0["type"] == "ADDED" })
            try await waitUntil("timeoutSeconds to end the watch") { await fresh.finished }

            // Streaming list: initial events, then a bookmark marking their end.
            let streaming = try await client.watch("\(Self.cmPath)?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
            let burst = try await streaming.waitFor(3)
            #expect(burst.map { $0["type"].string ?? "" } == ["ADDED", "ADDED", "BOOKMARK"])
            #expect(burst[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true")
            await streaming.cancel()

            // Too old after compaction: a 200 stream whose first event is ERROR 410 Expired.
            await emulator.compactHistory()
            let expired = try await client.watch("\(Self.cmPath)?watch=true&resourceVersion=\(listVersion)")
            #expect(expired.status == 200)
            let error = try await expired.waitFor(1)
            #expect(error.first?["type"] == "ERROR")
            #expect(error.first?["object"]["code"] == 410 && error.first?["object"]["reason"] == "Expired")
            #expect(error.first?["object"]["kind"] == "Status")
            try await waitUntil("the expired watch to end") { await expired.finished }
            // From the current version it works again.
            let current = await emulator.currentResourceVersion
            let resumed = try await client.watch("\(Self.cmPath)?watch=true&resourceVersion=\(current)")
            _ = try await client.send(.POST, Self.cmPath, ["metadata": ["name": "after"]])
            #expect(try await resumed.waitFor(1).first?["type"] == "ADDED")
            await resumed.cancel()
        }
    }

    @Test func periodicBookmarksAndWatchOfJobs() async throws {
        try await withEmulator(options: .init(bookmarkInterval: .milliseconds(100))) { emulator, client in
            let watch = try await client.watch("/apis/batch/v1/namespaces/default/jobs?watch=true&resourceVersion=\(await emulator.currentResourceVersion)&allowWatchBookmarks=true")
            let events = try await watch.waitFor(1)
            #expect(events[0]["type"] == "BOOKMARK" && events[0]["object"]["kind"] == "Job" && events[0]["object"]["apiVersion"] == "batch/v1")
            await watch.cancel()
        }
    }

    @Test func injectedFailuresHangsAndRequestLog() async throws {
        try await withEmulator { emulator, client in
            await emulator.clearRequestLog()
            await emulator.failNextRequests(2, status: 500, matching: "/configmaps")
            let first = try await client.send(.GET, Self.cmPath)
            #expect(first.status == 500 && first.body["reason"] == "InternalError" && first.body["kind"] == "Status")
            #expect(try await client.send(.GET, "/apis/batch/v1/namespaces/default/jobs").status == 200)
            #expect(try await client.send(.POST, Self.cmPath, ["metadata": ["name": "x"]]).status == 500)
            #expect(await emulator.objects(.configMaps, namespace: "default").isEmpty, "failed requests have no effect")
            #expect(try await client.send(.POST, Self.cmPath, ["metadata": ["name": "x"]]).status == 201)
            await emulator.failNextRequests(1, status: 429)
            let throttled = try await client.send(.GET, Self.cmPath)
            #expect(throttled.status == 429 && throttled.body["details"]["retryAfterSeconds"] == 1 && throttled.headers["Retry-After"] == ["1"])

            // A hung request gets no answer: it is logged with status 0 and stays open until the client gives up.
            await emulator.failNextRequests(1, status: 0)
            let hung = Task { try await client.send(.GET, Self.cmPath, timeout: .seconds(60)) }
            try await waitUntil("the hung request to reach the emulator") {
                await emulator.requestLog.last.map { $0.method == "GET" && $0.status == 0 } ?? false
            }
            hung.cancel()
            await #expect(throws: (any Error).self) { try await hung.value }

            let log = await emulator.requestLog
            #expect(log.filter { $0.method == "GET" && $0.path == Self.cmPath }.count == 3)
            #expect(log.last?.status == 0, "a hung request is logged with status 0")
            #expect(log.first?.status == 500)
            #expect(log.contains { $0.status == 429 })
        }
    }

    @Test func discovery() async throws {
        try await withEmulator { _, client in
            let api = try await client.send(.GET, "/api/v1")
            let resources = api.body["resources"].array ?? []
            let configMaps = try #require(resources.first { $0["name"] == "configmaps" })
            #expect(configMaps["kind"] == "ConfigMap" && configMaps["namespaced"] == true && configMaps["shortNames"] == ["cm"])
            #expect(resources.contains { $0["name"] == "pods/log" })
            let groups = try await client.send(.GET, "/apis")
            #expect(groups.body["groups"].array?.compactMap { $0["name"].string } == ["apps", "authorization.k8s.io", "batch", "coordination.k8s.io", "discovery.k8s.io", "networking.k8s.io", "policy"])
            #expect(try await client.send(.GET, "/apis/batch/v1").body["resources"][0]["kind"] == "Job")
            #expect(try await client.send(.GET, "/version").body["minor"] == "32")
            #expect(try await client.send(.GET, "/nonsense").status == 404)
        }
    }
}
