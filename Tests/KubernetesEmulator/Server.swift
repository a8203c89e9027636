import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Hands every HTTP request to the emulator actor and turns its answer into a Hummingbird response (JSON, text,
/// chunked watch stream, followed log, or no answer at all).
struct EmulatorResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let emulator: KubernetesEmulator

    /// The API server's request body limit (3 MiB).
    static let maxBody = 3 * 1024 * 1024

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        let uri = request.uri.string
        let (path, rawQuery) = uri.firstIndex(of: "?").map { (String(uri[..<$0]), String(uri[uri.index(after: $0)...])) } ?? (uri, "")
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxBody)
        } catch {
            let apiRequest = APIRequest(method: request.method.rawValue, path: path, query: Query.parse(rawQuery), headers: headers, body: [])
            await emulator.logRequest(.init(method: apiRequest.method, path: path, query: apiRequest.query, status: 413))
            return Self.response(.status(413, "RequestEntityTooLarge", "Request entity too large: limit is \(Self.maxBody)"))
        }
        let apiRequest = APIRequest(method: request.method.rawValue, path: path, query: Query.parse(rawQuery), headers: headers,
                                    body: Array(buffer: body))
        let answer = await emulator.handle(apiRequest)
        switch answer {
        case .hang:
            await emulator.hangUntilStopped()
            return Self.response(.status(503, "ServiceUnavailable", "the emulator stopped"))
        case .watch(let stream, let id):
            let emulator = self.emulator
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "no-cache, private"],
                body: ResponseBody { writer in
                    do {
                        for await line in stream {
                            try await writer.write(ByteBuffer(string: line))
                        }
                        try await writer.finish(nil)
                    } catch {
                        if let id { await emulator.closeWatch(id) }
                        throw error
                    }
                }
            )
        case .followLog(let path, let pod, let container, let prefix):
            let emulator = self.emulator
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain"],
                body: ResponseBody { writer in
                    var offset: UInt64 = 0
                    var pendingNewline = true
                    while true {
                        let running = await emulator.containerRunning(pod, container)
                        if let handle = FileHandle(forReadingAtPath: path) {
                            try? handle.seek(toOffset: offset)
                            let data = handle.readDataToEndOfFile()
                            try? handle.close()
                            if !data.isEmpty {
                                offset += UInt64(data.count)
                                var text = String(decoding: data, as: UTF8.self)
                                if !prefix.isEmpty {
                                    text = (pendingNewline ? prefix : "") + text.replacingOccurrences(of: "\n", with: "\n" + prefix)
                                    if text.hasSuffix(prefix) { text.removeLast(prefix.count) }
                                    pendingNewline = text.hasSuffix("\n")
                                }
                                try await writer.write(ByteBuffer(string: text))
                            }
                        }
                        if !running { break }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    try await writer.finish(nil)
                }
            )
        default:
            return Self.response(answer)
        }
    }

    static func response(_ answer: APIResponse) -> Response {
        switch answer {
        case .json(let code, let body, let extraHeaders):
            var headers: HTTPFields = [.contentType: "application/json"]
            for (name, value) in extraHeaders {
                if let fieldName = HTTPField.Name(name) { headers.append(HTTPField(name: fieldName, value: value)) }
            }
            let bytes = body.serializedData()
            return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .text(let code, let text):
            return Response(status: .init(code: code), headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: text)))
        default:
            return Response(status: .internalServerError)
        }
    }
}
