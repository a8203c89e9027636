import Logging

extension ServeSettings {
    /// A logger for one part of the reconciler, at the configured level (what `serve`'s log handler does too, so
    /// an embedder that bootstraps no logging still gets the configured level).
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}
