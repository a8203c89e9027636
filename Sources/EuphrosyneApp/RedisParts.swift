import EuphrosyneEngine
import EuphrosyneRedis
import EuphrosyneRedisAdapters
import Logging
import ServiceLifecycle

/// The Redis side of cluster mode, and of local mode with `--redis-address`: one command client, one subscriber connection for every
/// result channel, and the result source on top of them.
struct RedisParts {
    let client: RedisClient
    let subscriber: RedisSubscriber
    let results: RedisResultSource
    let store: RedisIncidentStore
    /// With leader election: the fencing token the store's writes carry.
    let fence: RedisFence?

    init(settings: ServeSettings, logger: Logger) throws {
        var configuration: RedisConfiguration
        do {
            configuration = try RedisConfiguration(address: settings.redisAddress)
        } catch {
            throw ReconcilerStartError("--redis-address \"\(settings.redisAddress)\" is not usable: \(error)")
        }
        if let password = settings.redisPassword {
            configuration.password = password
            configuration.username = settings.redisUsername
        }
        configuration.clientName = "euphrosyne"
        client = RedisClient(configuration: configuration, logger: settings.logger("euphrosyne.redis"))
        var subscriberConfiguration = configuration
        subscriberConfiguration.clientName = "euphrosyne-subscriber"
        subscriber = RedisSubscriber(configuration: subscriberConfiguration,
                                     logger: settings.logger("euphrosyne.redis.subscriber"))
        results = RedisResultSource(subscriber: subscriber, client: client,
                                    logger: settings.logger("euphrosyne.results.redis"))
        fence = settings.leaderElection == nil ? nil : RedisFence(client: client)
        store = RedisIncidentStore(client: client, retentionSeconds: settings.retentionSeconds,
                                   capacity: settings.maxStoredIncidents, fence: fence,
                                   logger: settings.logger("euphrosyne.store.redis"))
    }

    /// Exports the connections' reconnects and the subscriber's dropped messages into `metrics` at each scrape.
    func sampler(into metrics: ReconcilerMetrics) -> @Sendable () async -> Void {
        let client = self.client
        let subscriber = self.subscriber
        let store = self.store
        return {
            metrics.exportTotal("euphrosyne_incidents_undecodable_total", total: store.undecodableIncidents)
            metrics.exportTotal("euphrosyne_redis_reconnects_total", [("connection", "commands")], total: client.reconnects)
            metrics.exportTotal("euphrosyne_redis_reconnects_total", [("connection", "subscriber")],
                                total: subscriber.reconnects)
            metrics.exportTotal("euphrosyne_redis_dropped_messages_total", total: subscriber.droppedMessages)
            metrics.gauge("euphrosyne_redis_subscribed_channels", Double(subscriber.activeChannels))
        }
    }

    /// In start order: the client and subscriber before the result source that uses them.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        [.init(service: client), .init(service: subscriber), .init(service: results)]
    }
}
