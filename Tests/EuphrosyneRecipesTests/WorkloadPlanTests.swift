import EuphrosyneCore
import Foundation
import RecipeKit
import Testing

@testable import EuphrosyneKubernetes
@testable import EuphrosyneRecipes

/// The workload and network recipes' decisions as values: a rollback's patch, a rollout's progress, a request's path
/// to a Service's pods, and NetworkPolicy semantics.
@Suite struct WorkloadPlanTests {
    // MARK: rollout-undo

    static func object(_ json: String) -> [String: JSONValue] {
        try! JSONValue.parseObject(Data(json.utf8))
    }

    static func template(image: String, hash: String? = nil) -> String {
        let hashLabel = hash.map { #","pod-template-hash":"\#($0)""# } ?? ""
        return #"{"metadata":{"labels":{"app":"web"\#(hashLabel)}},"spec":{"containers":[{"name":"web","image":"\#(image)","readinessProbe":{"httpGet":{"path":"/ready","port":8080}}}]}}"#
    }

    static func replicaSet(_ name: String, revision: Int, image: String, owner: String = "dep-uid", extra: String = "") -> [String: JSONValue] {
        object(#"{"metadata":{"name":"\#(name)","annotations":{"deployment.kubernetes.io/revision":"\#(revision)"\#(extra)},"ownerReferences":[{"kind":"Deployment","name":"web","uid":"\#(owner)","controller":true}]},"spec":{"template":\#(template(image: image, hash: name))}}"#)
    }

    static let deployment = object(#"{"metadata":{"name":"web","uid":"dep-uid","annotations":{"deployment.kubernetes.io/revision":"3","team":"r1","kubectl.kubernetes.io/last-applied-configuration":"{}"}},"spec":{"template":\#(template(image: "shop/web:3"))}}"#)

    @Test func undoGoesBackToTheSecondHighestRevisionWithItsWholeTemplate() throws {
        let sets = [Self.replicaSet("web-3", revision: 3, image: "shop/web:3"),
                    Self.replicaSet("web-2", revision: 2, image: "shop/web:2", extra: #","owner":"payments""#),
                    Self.replicaSet("web-1", revision: 1, image: "shop/web:1"),
                    Self.replicaSet("other-9", revision: 9, image: "x", owner: "someone-else")]
        let plan = try RolloutUndoPlan(deployment: Self.deployment, replicaSets: sets, toRevision: 0)
        #expect(plan.revision == 2 && plan.replicaSet == "web-2")
        // The template as the ReplicaSet holds it (the probe too), without pod-template-hash; the annotations as
        // kubectl writes them: the Deployment's kept ones, then the ReplicaSet's others; `team` is dropped.
        let expected = Self.object(#"{"patch":[{"op":"replace","path":"/spec/template","value":\#(Self.template(image: "shop/web:2"))},{"op":"add","path":"/metadata/annotations","value":{"deployment.kubernetes.io/revision":"3","kubectl.kubernetes.io/last-applied-configuration":"{}","owner":"payments"}}]}"#)
        #expect(plan.patch == expected["patch"])
        #expect(try RolloutUndoPlan(deployment: Self.deployment, replicaSets: sets, toRevision: 1).replicaSet == "web-1")
    }

    @Test func undoSaysWhenThereIsNothingToGoBackTo() throws {
        #expect(throws: RecipeError.failed("no rollout history found for deployment web: it has 1 revision, so there is nothing to go back to")) {
            try RolloutUndoPlan(deployment: Self.deployment, replicaSets: [Self.replicaSet("web-3", revision: 3, image: "shop/web:3")],
                                toRevision: 0)
        }
        #expect(throws: RecipeError.failed("unable to find revision 7 of deployment web; it has 2, 3")) {
            try RolloutUndoPlan(deployment: Self.deployment, replicaSets: [Self.replicaSet("web-3", revision: 3, image: "shop/web:3"),
                                                                           Self.replicaSet("web-2", revision: 2, image: "shop/web:2")],
                                toRevision: 7)
        }
        // Already on that template: nothing to patch.
        let same = try RolloutUndoPlan(deployment: Self.deployment, replicaSets: [Self.replicaSet("web-3", revision: 3, image: "shop/web:3"),
                                                                                  Self.replicaSet("web-2", revision: 2, image: "shop/web:3")],
                                       toRevision: 0)
        #expect(same.patch == nil)
    }

    // MARK: Rollout progress, as kubectl rollout status judges it

    static func deployment(generation: Int, observed: Int, replicas: Int = 3, updated: Int = 3, total: Int = 3, available: Int = 3,
                           progressing: String? = nil) -> Deployment {
        var deployment = Deployment(metadata: ObjectMeta(name: "web"), spec: .init(replicas: replicas, selector: nil, template: nil))
        deployment.metadata.generation = generation
        deployment.status = Deployment.Status(observedGeneration: observed, replicas: total, updatedReplicas: updated,
                                              availableReplicas: available,
                                              conditions: progressing.map { [.init(type: "Progressing", status: "False", reason: $0, message: "ReplicaSet \"web-2\" has timed out progressing.")] })
        return deployment
    }

    @Test func aRolloutIsCompleteOnlyOnceEveryReplicaIsUpdatedAndAvailable() {
        #expect(Self.deployment(generation: 2, observed: 2).rolloutProgress == .complete)
        #expect(Self.deployment(generation: 3, observed: 2).rolloutProgress
                == .waiting("the controller has not yet seen the change (generation 3, observed 2)"))
        #expect(Self.deployment(generation: 2, observed: 2, updated: 1, total: 4, available: 3).rolloutProgress
                == .waiting("1 of 3 new replicas have been updated"))
        #expect(Self.deployment(generation: 2, observed: 2, total: 4).rolloutProgress == .waiting("1 old replicas are pending termination"))
        #expect(Self.deployment(generation: 2, observed: 2, available: 2).rolloutProgress == .waiting("2 of 3 updated replicas are available"))
        #expect(Self.deployment(generation: 2, observed: 2, available: 0, progressing: "ProgressDeadlineExceeded").rolloutProgress
                == .failed("deployment \"web\" exceeded its progress deadline: ReplicaSet \"web-2\" has timed out progressing."))
    }
}
