import Crypto
import EuphrosyneSupport

/// The signature a recipe puts on its result so the reconciler can tell it from a result forged by anyone else who
/// can publish on the incident's Redis channel (another incident's recipe, a neighbour on a shared Redis).
///
/// The key is the incident's secret (`Incident.callbackSecret`), which the reconciler hands to that incident's
/// recipes only (`EUPHROSYNE_RESULT_KEY`). RecipeKit's `RecipeRunner` signs every result it reports;
/// `IncidentCoordinator.deliver` verifies. The signed message is defined byte for byte, so an SDK in any language can
/// produce it:
///
/// ```
/// message   = "euphrosyne-result-v1\n" + ns(incident, lowercased) + ns(name) + ns(status) + ns(analysis) + ns(json)
///             + ns(count of actions) + ns(each action) + ns(count of links) + ns(each link)
/// ns(s)     = "<byte length of s in UTF-8>:" + s + ","      (a netstring; counts are decimal text)
/// status    = successful | failed | unknown                 (as the reconciler normalises it)
/// signature = "sha256=" + lowercase hex of HMAC-SHA256(key: the key's UTF-8 bytes, message)
/// ```
///
/// In Python: `"sha256=" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()`. Netstrings make the
/// message unambiguous (no field can run into the next), and the version line lets a later format coexist.
public enum ResultSignature {
    /// What precedes the hex digest in `RecipeResult.signature`.
    public static let scheme = "sha256="

    /// The exact bytes that are signed.
    public static func message(for result: RecipeResult) -> [UInt8] {
        var message = Array("euphrosyne-result-v1\n".utf8)
        func netstring(_ text: String) {
            let bytes = Array(text.utf8)
            message += Array(String(bytes.count).utf8)
            message.append(UInt8(ascii: ":"))
            message += bytes
            message.append(UInt8(ascii: ","))
        }
        netstring(result.incident.lowercased())
        netstring(result.name)
        netstring(result.status.rawValue)
        netstring(result.results.analysis)
        netstring(result.results.json)
        netstring(String(result.results.actions.count))
        result.results.actions.forEach(netstring)
        netstring(String(result.results.links.count))
        result.results.links.forEach(netstring)
        return message
    }

    /// The signature of `result` (its own `signature` field is not part of the message), e.g. `sha256=87f6…`.
    public static func sign(_ result: RecipeResult, key: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: message(for: result), using: SymmetricKey(data: Array(key.utf8)))
        return scheme + Hex.lowercase(code)
    }

    /// A copy of `result` carrying its signature.
    public static func signed(_ result: RecipeResult, key: String) -> RecipeResult {
        var signed = result
        signed.signature = sign(result, key: key)
        return signed
    }

    /// Whether `result.signature` is the signature of `result` under `key`. False for an unsigned result and for
    /// anything that is not `sha256=` followed by 64 hex digits. The digest is compared in constant time.
    public static func verify(_ result: RecipeResult, key: String) -> Bool {
        guard let signature = result.signature, let digest = digest(of: signature) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            digest, authenticating: message(for: result), using: SymmetricKey(data: Array(key.utf8)))
    }

    /// The 32 bytes a well-formed signature carries.
    private static func digest(of signature: String) -> [UInt8]? {
        let bytes = Array(signature.utf8)
        let prefix = Array(scheme.utf8)
        guard bytes.count == prefix.count + 64, bytes.starts(with: prefix) else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(32)
        var index = prefix.count
        while index < bytes.count {
            guard let high = value(bytes[index]), let low = value(bytes[index + 1]) else { return nil }
            digest.append(high << 4 | low)
            index += 2
        }
        return digest
    }
}
