import Foundation

extension KubernetesEmulator {
    /// A pod a controller makes from its template, as the Job and ReplicaSet controllers do: `<owner>-<5 chars>`,
    /// the template's labels and annotations, and a controller ownerReference to `owner` (of `kind` in
    /// `apiVersion`); the scheduler and the kubelet take it from there.
    func createControlledPod(for owner: JSON, kind: String, apiVersion: String) {
        let namespace = owner["metadata"]["namespace"].string ?? ""
        let ownerName = owner["metadata"]["name"].string ?? ""
        let template = owner["spec"]["template"]
        var name = Names.generate(from: ownerName + "-")
        while stored(.pods, namespace, name) != nil { name = Names.generate(from: ownerName + "-") }
        var metadata: JSON = [
            "name": .string(name), "generateName": .string(ownerName + "-"), "namespace": .string(namespace),
            "uid": .string(UUID().uuidString.lowercased()), "creationTimestamp": .string(Timestamp.rfc3339()), "generation": 1,
            "labels": template["metadata"]["labels"].isNull ? [:] : template["metadata"]["labels"],
            "ownerReferences": [[
                "apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(ownerName), "uid": owner["metadata"]["uid"],
                "controller": true, "blockOwnerDeletion": true,
            ]],
        ]
        if !template["metadata"]["annotations"].isNull { metadata["annotations"] = template["metadata"]["annotations"] }
        var pod: JSON = ["kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": template["spec"],
                         "status": ["phase": "Pending", "qosClass": "BestEffort"]]
        Objects.applyDefaults(.pods, &pod)
        storeCreate(.pods, namespace, pod)
    }
}
