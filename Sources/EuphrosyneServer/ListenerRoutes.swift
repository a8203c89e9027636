import Hummingbird

/// Routes an integration adds to a listener outside its authenticated group, because they carry their own
/// authentication (Webex signs its webhook callbacks with `X-Spark-Signature`). The app builder passes them to
/// `Listeners.api(routes:)`, so the server mounts an integration's routes without knowing the integration.
public protocol ListenerRoutes: Sendable {
    /// Registers the routes on `router`; they answer with `APIError`s and `JSONResponse`s like the server's own.
    func add(to router: some RouterMethods<BasicRequestContext>)
}
