/// One `details.causes[]` entry of an `Invalid` Status.
struct Cause: Sendable {
    var reason: String
    var message: String
    var field: String

    static func invalid(_ field: String, _ value: String, _ message: String) -> Cause {
        Cause(reason: "FieldValueInvalid", message: "Invalid value: \(quoted(value)): \(message)", field: field)
    }

    static func required(_ field: String, _ message: String = "Required value") -> Cause {
        Cause(reason: "FieldValueRequired", message: message, field: field)
    }

    static func notSupported(_ field: String, _ value: String, _ supported: [String]) -> Cause {
        Cause(reason: "FieldValueNotSupported",
              message: "Unsupported value: \(quoted(value)): supported values: \(supported.map(quoted).joined(separator: ", "))",
              field: field)
    }

    static func tooLong(_ field: String, _ limit: Int) -> Cause {
        Cause(reason: "FieldValueTooLong", message: "Too long: must have at most \(limit) bytes", field: field)
    }

    static func forbidden(_ field: String, _ message: String) -> Cause {
        Cause(reason: "FieldValueForbidden", message: "Forbidden: \(message)", field: field)
    }

    var json: JSON { ["reason": .string(reason), "message": .string(message), "field": .string(field)] }

    /// `field: message`, as the Status message lists causes.
    var summary: String { field.isEmpty ? message : "\(field): \(message)" }
}

func quoted(_ value: String) -> String {
    var result = "\""
    for character in value {
        switch character {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        default: result.append(character)
        }
    }
    return result + "\""
}

/// The name, label and key rules of apimachinery `pkg/util/validation` (messages as the API server words them).
enum Rules {
    static let subdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let labelMessage = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let qualifiedNameMessage = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    static let labelValueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    static let configKeyMessage = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

    static func maxLength(_ limit: Int) -> String { "must be no more than \(limit) characters" }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
    private static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= 65 && c <= 90) }

    static func isDNSLabel(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    static func isDNSSubdomain(_ value: String) -> Bool {
        !value.isEmpty && value.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
    }

    /// Errors of a DNS-1123 subdomain (max 253); with `prefix`, a trailing `-` is allowed (generateName).
    static func subdomainErrors(_ value: String, prefix: Bool = false) -> [String] {
        var errors: [String] = []
        let checked = prefix && value.hasSuffix("-") ? String(value.dropLast()) + "a" : value
        if value.utf8.count > 253 { errors.append(maxLength(253)) }
        if !isDNSSubdomain(checked) { errors.append(subdomainMessage) }
        return errors
    }

    static func labelErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 63 { errors.append(maxLength(63)) }
        if !isDNSLabel(value) { errors.append(labelMessage) }
        return errors
    }

    private static func isQualifiedNamePart(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Errors of a label (or annotation) key: optional DNS-subdomain prefix and `/`, then a name of at most 63.
    static func qualifiedNameErrors(_ value: String) -> [String] {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let name: String
        var errors: [String] = []
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            name = parts[1]
            if parts[0].isEmpty {
                errors.append("prefix part must be non-empty")
            } else {
                errors += subdomainErrors(parts[0]).map { "prefix part \($0)" }
            }
        default:
            return ["a qualified name " + qualifiedNameMessage + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        if name.isEmpty {
            errors.append("name part must be non-empty")
        } else if name.utf8.count > 63 {
            errors.append("name part " + maxLength(63))
        }
        if !name.isEmpty, !isQualifiedNamePart(name) { errors.append("name part " + qualifiedNameMessage) }
        return errors
    }

    static func labelValueErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 63 { errors.append(maxLength(63)) }
        if !value.isEmpty, !isQualifiedNamePart(value) { errors.append(labelValueMessage) }
        return errors
    }

    static func configKeyErrors(_ key: String) -> [String] {
        var errors: [String] = []
        if key.utf8.count > 253 { errors.append(maxLength(253)) }
        let allowed = !key.isEmpty && key.utf8.allSatisfy {
            isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
        if !allowed { errors.append(configKeyMessage) }
        if key == "." { errors.append("must not be '.'") } else if key == ".." { errors.append("must not be '..'") } else if key.hasPrefix("..") {
            errors.append("must not start with '..'")
        }
        return errors
    }

    static func labelCauses(_ labels: JSON, field: String) -> [Cause] {
        var causes: [Cause] = []
        guard case .object(let members) = labels else {
            if !labels.isNull { causes.append(.invalid(field, labels.serialized(), "must be a map of strings")) }
            return causes
        }
        for key in members.keys.sorted() {
            for message in qualifiedNameErrors(key) { causes.append(.invalid(field, key, message)) }
            guard let value = members[key]?.string else {
                causes.append(.invalid(field, members[key]?.serialized() ?? "", "must be a string"))
                continue
            }
            for message in labelValueErrors(value) { causes.append(.invalid(field, value, message)) }
        }
        return causes
    }
}

/// A parsed `labelSelector`: equality (`=`, `==`, `!=`), sets (`in`, `notin`), existence (`k`, `!k`), and `<`/`>`.
struct LabelSelector: Sendable {
    enum Operator: Sendable { case equals, notEquals, `in`, notIn, exists, doesNotExist, greaterThan, lessThan }
    struct Requirement: Sendable {
        var key: String
        var op: Operator
        var values: [String]
    }

    var requirements: [Requirement] = []

    static let everything = LabelSelector()

    struct ParseError: Error { var message: String }

    init() {}

    init(parsing text: String) throws(ParseError) {
        var tokens = try Self.tokenize(text)
        var index = 0
        func peek() -> String? { index < tokens.count ? tokens[index] : nil }
        func next() -> String? { defer { index += 1 }; return peek() }
        func isIdentifier(_ token: String?) -> Bool {
            guard let token else { return false }
            return !["!", "=", "==", "!=", ",", "(", ")", "<", ">"].contains(token)
        }
        if tokens.isEmpty { return }
        tokens.append(",")
        while index < tokens.count - 1 {
            var requirement: Requirement
            if peek() == "!" {
                _ = next()
                guard isIdentifier(peek()) else { throw ParseError(message: "unable to parse requirement: missing key after '!'") }
                requirement = Requirement(key: next()!, op: .doesNotExist, values: [])
            } else {
                guard isIdentifier(peek()) else {
                    throw ParseError(message: "unable to parse requirement: found '\(peek() ?? "")', expected: identifier")
                }
                let key = next()!
                switch peek() {
                case ",":
                    requirement = Requirement(key: key, op: .exists, values: [])
                case "=", "==", "!=":
                    let op: Operator = next() == "!=" ? .notEquals : .equals
                    var value = ""
                    if isIdentifier(peek()) { value = next()! }
                    requirement = Requirement(key: key, op: op, values: [value])
                case "<", ">":
                    let op: Operator = next() == ">" ? .greaterThan : .lessThan
                    guard isIdentifier(peek()), let value = next(), Int(value) != nil else {
                        throw ParseError(message: "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer")
                    }
                    requirement = Requirement(key: key, op: op, values: [value])
                case "in", "notin":
                    let op: Operator = next() == "in" ? .in : .notIn
                    guard next() == "(" else { throw ParseError(message: "unable to parse requirement: found '\(tokens[index - 1])', expected: '('") }
                    var values: [String] = []
                    while true {
                        if isIdentifier(peek()) { values.append(next()!) } else { values.append("") }
                        let separator = next()
                        if separator == ")" { break }
                        guard separator == "," else { throw ParseError(message: "unable to parse requirement: found '\(separator ?? "")', expected: ',' or ')'") }
                    }
                    requirement = Requirement(key: key, op: op, values: values)
                default:
                    throw ParseError(message: "unable to parse requirement: found '\(peek() ?? "")', expected: in, notin, =, ==, !=, gt, lt")
                }
            }
            for message in Rules.qualifiedNameErrors(requirement.key) {
                throw ParseError(message: "unable to parse requirement: key: Invalid value: \(quoted(requirement.key)): \(message)")
            }
            if requirement.op != .greaterThan, requirement.op != .lessThan {
                for value in requirement.values {
                    for message in Rules.labelValueErrors(value) {
                        throw ParseError(message: "unable to parse requirement: values[0][\(requirement.key)]: Invalid value: \(quoted(value)): \(message)")
                    }
                }
            }
            requirements.append(requirement)
            guard next() == "," else { throw ParseError(message: "unable to parse requirement: found '\(tokens[index - 1])', expected: ','") }
        }
    }

    private static func tokenize(_ text: String) throws(ParseError) -> [String] {
        var tokens: [String] = []
        var current = ""
        let characters = Array(text)
        var index = 0
        func flush() { if !current.isEmpty { tokens.append(current); current = "" } }
        while index < characters.count {
            let character = characters[index]
            switch character {
            case " ", "\t", "\n":
                flush()
            case ",", "(", ")", "<", ">":
                flush(); tokens.append(String(character))
            case "=":
                flush()
                if index + 1 < characters.count, characters[index + 1] == "=" { tokens.append("=="); index += 1 } else { tokens.append("=") }
            case "!":
                flush()
                if index + 1 < characters.count, characters[index + 1] == "=" { tokens.append("!="); index += 1 } else { tokens.append("!") }
            default:
                current.append(character)
            }
            index += 1
        }
        flush()
        return tokens
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            let value = labels[requirement.key]
            switch requirement.op {
            case .equals, .in: return value.map(requirement.values.contains) ?? false
            case .notEquals, .notIn: return value.map { !requirement.values.contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .greaterThan: return value.flatMap { Int($0) }.map { $0 > Int(requirement.values[0])! } ?? false
            case .lessThan: return value.flatMap { Int($0) }.map { $0 < Int(requirement.values[0])! } ?? false
            }
        }
    }
}

/// A parsed `fieldSelector` (`a.b=v`, `a.b==v`, `a.b!=v`, joined by `,`), limited to the fields each resource
/// supports on the real server.
struct FieldSelector: Sendable {
    struct Term: Sendable {
        var field: String
        var value: String
        var negated: Bool
    }

    var terms: [Term] = []

    static let everything = FieldSelector()

    init() {}

    init(parsing text: String, resource: Resource?) throws(LabelSelector.ParseError) {
        for part in text.split(separator: ",").map({ String($0).trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let term: Term
            if let range = part.range(of: "!=") {
                term = Term(field: String(part[..<range.lowerBound]), value: String(part[range.upperBound...]), negated: true)
            } else if let range = part.range(of: "==") {
                term = Term(field: String(part[..<range.lowerBound]), value: String(part[range.upperBound...]), negated: false)
            } else if let range = part.range(of: "=") {
                term = Term(field: String(part[..<range.lowerBound]), value: String(part[range.upperBound...]), negated: false)
            } else {
                throw LabelSelector.ParseError(message: "invalid selector: '\(text)'; can't understand '\(part)'")
            }
            guard Self.supported(resource).contains(term.field) else {
                throw LabelSelector.ParseError(message: "field label not supported: \(term.field)")
            }
            terms.append(term)
        }
    }

    static func supported(_ resource: Resource?) -> Set<String> {
        var fields: Set<String> = ["metadata.name", "metadata.namespace"]
        switch resource {
        case .pods: fields.formUnion(["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                                      "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"])
        case .jobs: fields.insert("status.successful")
        case .secrets: fields.insert("type")
        case .nodes: fields.insert("spec.unschedulable")
        case .events:
            fields.formUnion(["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                              "reason", "reportingComponent", "source", "type"])
        default: break
        }
        return fields
    }

    func matches(_ object: JSON) -> Bool {
        terms.allSatisfy { term in
            // Two selectable fields are not where their names say: Jobs' `status.successful` and Events' `source`.
            let path = term.field == "status.successful" ? "status.succeeded" : term.field == "source" ? "source.component" : term.field
            let actual: String
            switch object[path: path] {
            case .string(let text): actual = text
            case .int(let number): actual = String(number)
            case .bool(let flag): actual = String(flag)
            default: actual = path == "status.succeeded" ? "0" : path == "spec.unschedulable" ? "false" : ""
            }
            return (actual == term.value) != term.negated
        }
    }
}

import Foundation
