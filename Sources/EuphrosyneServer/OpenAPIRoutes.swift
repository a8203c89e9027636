import Hummingbird
import NIOCore

/// `GET /openapi.yaml` on both listeners: the OpenAPI description of every route, unauthenticated.
///
/// The document is `openapi.yaml` at the repository root. `Sources/EuphrosyneServer/openapi.yaml` is a symlink to
/// it, declared as an `.embedInCode` resource in Package.swift, so SwiftPM compiles its bytes into the binary
/// (`PackageResources.openapi_yaml`) and rebuilds when the file changes. Embedding, rather than `.copy` with
/// `Bundle.module`, leaves no resource bundle to ship next to the executable: `swift run`, an installed binary and
/// the Docker image (whose Dockerfile copies the root file into the build) all serve the same document. There is
/// one copy to edit, and `OpenAPITests` holds it to the routes and to real responses.
public enum OpenAPIDocument {
    /// The YAML text, byte for byte the repository's openapi.yaml.
    public static let yaml: String = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
}

enum OpenAPIRoutes {
    static func add<Context: RequestContext>(to router: Router<Context>) {
        let body = ByteBuffer(string: OpenAPIDocument.yaml)
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: .init(byteBuffer: body))
        }
    }
}
