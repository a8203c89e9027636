import EuphrosyneCore
import Foundation
import Hummingbird

/// JSON responses with the encoding every endpoint shares: sorted keys, RFC 3339 dates with milliseconds. Public
/// for the integrations' `ListenerRoutes` (the Webex callback).
public enum JSONResponse {
    public static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.formatWithMilliseconds(date))
        }
        let body = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}
