import Yams

// The registry's extension fields for cluster mode and for approvers, parsed as the rest of a recipe is
// (RecipeCatalog.swift): `secretEnv`, `runAsUser`, `inputs`, `resources`. Each bad value is a problem naming the
// recipe and the field; the recipe is then skipped.
extension RecipeBuilder {
    /// `secretEnv`: a mapping of variable names to `{secret, key, optional}`. Names are C identifiers, neither
    /// reserved (`EUPHROSYNE_*`, the Redis credentials) nor also in `env`. Nil when absent; an empty mapping is kept
    /// (it means "no Jira variables").
    mutating func secretEnvironment(_ config: Node.Mapping, plain env: [String: String]) -> [String: SecretKeyReference]? {
        guard let value = present(config, "secretEnv") else { return nil }
        guard let mapping = value.mapping else {
            problem("field \"secretEnv\" must be a mapping of variable names to {secret, key, optional}, got \(value.yamlKind)")
            return nil
        }
        var references: [String: SecretKeyReference] = [:]
        for (nameNode, entry) in mapping {
            guard let name = nameNode.yamlString else {
                problem("field \"secretEnv\" must have variable names as keys, got \(nameNode.yamlKind)")
                continue
            }
            let field = "secretEnv.\(name)"
            guard SecretKeyReference.isValidVariableName(name) else {
                problem("field \"\(field)\": \"\(name)\" is not a valid variable name (letters, digits and '_', not starting with a digit)")
                continue
            }
            guard !SecretKeyReference.isReserved(name) else {
                problem("field \"\(field)\": \(name) is set by Euphrosyne itself (EUPHROSYNE_*, REDIS_USERNAME, REDIS_PASSWORD)")
                continue
            }
            guard env[name] == nil else {
                problem("field \"\(field)\": \(name) is also set in \"env\"; give it one source")
                continue
            }
            guard let fields = entry.mapping else {
                problem("field \"\(field)\" must be a mapping {secret, key, optional}, got \(entry.yamlKind)")
                continue
            }
            var valid = true
            for key in fields.keys where !["secret", "key", "optional"].contains(key.yamlString ?? "") {
                problem("field \"\(field)\" takes only secret, key and optional, got \(key.yamlString.map { "\"\($0)\"" } ?? key.yamlKind)")
                valid = false
            }
            let secret = present(fields, "secret")
            let key = present(fields, "key")
            if secret == nil {
                problem("field \"\(field).secret\" is required")
                valid = false
            } else if let secret, !(secret.yamlString.map(RecipeResources.isDNSSubdomain) ?? false) {
                problem("field \"\(field).secret\" must be a Secret name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'), got \(secret.yamlKind)")
                valid = false
            }
            if key == nil {
                problem("field \"\(field).key\" is required")
                valid = false
            } else if let key, !(key.yamlString.map(SecretKeyReference.isValidKey) ?? false) {
                problem("field \"\(field).key\" must be a Secret key (letters, digits, '-', '_' and '.'), got \(key.yamlKind)")
                valid = false
            }
            var optional = false
            if let flag = present(fields, "optional") {
                if let bool = flag.yamlBool {
                    optional = bool
                } else {
                    problem("field \"\(field).optional\" must be a boolean (true or false), got \(flag.yamlKind)")
                    valid = false
                }
            }
            guard valid, let secretName = secret?.yamlString, let keyName = key?.yamlString else { continue }
            references[name] = SecretKeyReference(secret: secretName, key: keyName, optional: optional)
        }
        return references
    }

    /// `runAsUser`: a uid from 1 to 2147483647 (the range Kubernetes accepts, without root).
    mutating func userID(_ config: Node.Mapping) -> Int? {
        guard let value = present(config, "runAsUser") else { return nil }
        guard let uid = value.yamlInt else {
            problem("field \"runAsUser\" must be a whole number (a uid), got \(value.yamlKind)")
            return nil
        }
        guard uid != 0 else {
            problem("field \"runAsUser\" is 0: root is not allowed; give the non-root uid the image needs")
            return nil
        }
        guard (1...Int(Int32.max)).contains(uid) else {
            problem("field \"runAsUser\" must be between 1 and \(Int32.max), got \(uid)")
            return nil
        }
        return uid
    }

    /// `inputs`: a list of distinct field names (letters, digits, `_` and `-`, at most 64 characters).
    mutating func inputNames(_ config: Node.Mapping) -> [String] {
        guard let value = present(config, "inputs") else { return [] }
        guard let sequence = value.sequence else {
            problem("field \"inputs\" must be a list of field names, got \(value.yamlKind)")
            return []
        }
        var names: [String] = []
        for item in sequence {
            guard let name = item.yamlString, !name.isEmpty, name.count <= 64,
                  name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            else {
                problem("field \"inputs\" must hold names of letters, digits, '_' and '-' (at most 64 characters), got \(item.yamlString.map { "\"\($0)\"" } ?? item.yamlKind)")
                continue
            }
            guard !names.contains(name) else {
                problem("field \"inputs\" lists \"\(name)\" twice")
                continue
            }
            names.append(name)
        }
        return names
    }

    /// `resources`: `requests` and `limits`, each a mapping of resource names to quantities (`100m`, `128Mi`, `1`).
    mutating func resources(_ config: Node.Mapping) -> RecipeResources? {
        guard let value = present(config, "resources") else { return nil }
        guard let mapping = value.mapping else {
            problem("field \"resources\" must be a mapping with \"requests\" and/or \"limits\", got \(value.yamlKind)")
            return nil
        }
        var resources = RecipeResources()
        for (key, entry) in mapping {
            guard let part = key.yamlString, part == "requests" || part == "limits" else {
                problem("field \"resources\" takes only \"requests\" and \"limits\", got \"\(key.yamlString ?? key.yamlKind)\"")
                continue
            }
            guard let quantities = entry.mapping else {
                problem("field \"resources.\(part)\" must be a mapping of resource names to quantities, got \(entry.yamlKind)")
                continue
            }
            var values: [String: String] = [:]
            for (name, quantity) in quantities {
                guard let resource = name.yamlString, let amount = quantity.scalar?.string,
                      RecipeResources.isQuantity(amount)
                else {
                    problem("field \"resources.\(part)\" must map resource names to quantities like \"100m\" or \"128Mi\", got \(quantity.yamlKind) for \(name.yamlString ?? "?")")
                    continue
                }
                values[resource] = amount
            }
            if part == "requests" { resources.requests = values } else { resources.limits = values }
        }
        return resources
    }
}
