/// The PATCH flavours: RFC 7386 merge patch, RFC 6902 JSON patch, and a strategic merge patch that merges the
/// well-known keyed lists (containers, env, volumes, conditions, ...) by their merge key.
enum Patch {
    struct Failure: Error {
        var message: String
        /// 422 for a failed `test` op and the like; otherwise 400.
        var invalid = false
    }

    static func merge(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(let patchMembers) = patch else { return patch }
        var result: [String: JSON] = target.object ?? [:]
        for (key, value) in patchMembers {
            if value.isNull {
                result.removeValue(forKey: key)
            } else {
                result[key] = merge(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    /// Merge keys of the lists the strategic merge patch merges instead of replacing.
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
        "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort", "conditions": "type",
        "ownerReferences": "uid", "imagePullSecrets": "name", "containerStatuses": "name", "tolerations": "key",
        "items": "key",
    ]

    static func strategicMerge(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(var patchMembers) = patch else { return patch }
        if patchMembers["$patch"]?.string == "replace" {
            patchMembers.removeValue(forKey: "$patch")
            return .object(patchMembers)
        }
        if patchMembers["$patch"]?.string == "delete" { return .null }
        var result: [String: JSON] = target.object ?? [:]
        for (key, value) in patchMembers {
            if key.hasPrefix("$") { continue }
            if value.isNull {
                result.removeValue(forKey: key)
            } else if case .array(let patchElements) = value, let mergeKey = mergeKeys[key],
                      case .array(var existing)? = result[key],
                      patchElements.allSatisfy({ $0.object != nil })
            {
                for element in patchElements {
                    let identity = element[mergeKey]
                    if let index = existing.firstIndex(where: { $0[mergeKey] == identity }) {
                        if element["$patch"].string == "delete" {
                            existing.remove(at: index)
                        } else {
                            existing[index] = strategicMerge(existing[index], element)
                        }
                    } else if element["$patch"].string != "delete" {
                        existing.append(strategicMerge(.null, element))
                    }
                }
                result[key] = .array(existing)
            } else {
                result[key] = strategicMerge(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    static func jsonPatch(_ target: JSON, _ operations: JSON) throws(Failure) -> JSON {
        guard case .array(let list) = operations else { throw Failure(message: "json patch must be an array of operations") }
        var document = target
        for operation in list {
            guard let op = operation["op"].string, let path = operation["path"].string else {
                throw Failure(message: "json patch operation needs 'op' and 'path'")
            }
            let pointer = try parsePointer(path)
            switch op {
            case "add":
                document = try add(document, pointer[...], operation["value"])
            case "remove":
                _ = try get(document, pointer[...])
                document = try remove(document, pointer[...])
            case "replace":
                _ = try get(document, pointer[...])
                document = try remove(document, pointer[...])
                document = try add(document, pointer[...], operation["value"])
            case "move", "copy":
                guard let from = operation["from"].string else { throw Failure(message: "\(op) operation needs 'from'") }
                let fromPointer = try parsePointer(from)
                let value = try get(document, fromPointer[...])
                if op == "move" { document = try remove(document, fromPointer[...]) }
                document = try add(document, pointer[...], value)
            case "test":
                let value = try get(document, pointer[...])
                guard value == operation["value"] else {
                    throw Failure(message: "the server rejected our request due to an error in our request", invalid: true)
                }
            default:
                throw Failure(message: "Unexpected kind: \(op)")
            }
        }
        return document
    }

    private static func parsePointer(_ path: String) throws(Failure) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw Failure(message: "invalid JSON pointer \(quoted(path))") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func get(_ document: JSON, _ pointer: ArraySlice<String>) throws(Failure) -> JSON {
        guard let first = pointer.first else { return document }
        switch document {
        case .object(let members):
            guard let child = members[first] else { throw Failure(message: "missing path: \(first)") }
            return try get(child, pointer.dropFirst())
        case .array(let elements):
            guard let index = Int(first), elements.indices.contains(index) else { throw Failure(message: "invalid index: \(first)") }
            return try get(elements[index], pointer.dropFirst())
        default:
            throw Failure(message: "path does not exist: \(first)")
        }
    }

    private static func add(_ document: JSON, _ pointer: ArraySlice<String>, _ value: JSON) throws(Failure) -> JSON {
        guard let first = pointer.first else { return value }
        let rest = pointer.dropFirst()
        switch document {
        case .object(var members):
            if rest.isEmpty {
                members[first] = value
            } else {
                guard let child = members[first] else { throw Failure(message: "missing path: \(first)") }
                members[first] = try add(child, rest, value)
            }
            return .object(members)
        case .array(var elements):
            if rest.isEmpty {
                if first == "-" { elements.append(value); return .array(elements) }
                guard let index = Int(first), index >= 0, index <= elements.count else { throw Failure(message: "invalid index: \(first)") }
                elements.insert(value, at: index)
            } else {
                guard let index = Int(first), elements.indices.contains(index) else { throw Failure(message: "invalid index: \(first)") }
                elements[index] = try add(elements[index], rest, value)
            }
            return .array(elements)
        default:
            throw Failure(message: "cannot add to a non-container at \(first)")
        }
    }

    private static func remove(_ document: JSON, _ pointer: ArraySlice<String>) throws(Failure) -> JSON {
        guard let first = pointer.first else { return .null }
        let rest = pointer.dropFirst()
        switch document {
        case .object(var members):
            guard let child = members[first] else { throw Failure(message: "missing path: \(first)") }
            if rest.isEmpty { members.removeValue(forKey: first) } else { members[first] = try remove(child, rest) }
            return .object(members)
        case .array(var elements):
            guard let index = Int(first), elements.indices.contains(index) else { throw Failure(message: "invalid index: \(first)") }
            if rest.isEmpty { elements.remove(at: index) } else { elements[index] = try remove(elements[index], rest) }
            return .array(elements)
        default:
            throw Failure(message: "path does not exist: \(first)")
        }
    }
}

import Foundation
