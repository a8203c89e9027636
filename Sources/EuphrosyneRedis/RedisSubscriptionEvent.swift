import NIOCore

/// What a ``RedisSubscription`` yields to the code consuming a channel.
public enum RedisSubscriptionEvent: Hashable, Sendable {
    /// The server confirmed the subscription. Yielded first, and again after every re-subscribe that follows a
    /// reconnect: pub/sub is at-most-once, so on each `.subscribed` a consumer catches up on what it may have missed
    /// (re-reads state from a key, a list, a stream…).
    case subscribed
    /// One message published to the channel, its payload exactly as sent.
    case message(ByteBuffer)
    /// The subscription's bounded buffer was full and `count` messages (the newest at the time) were dropped here,
    /// between the messages before and after this event. Consumers catch up the same way as on `.subscribed`.
    case dropped(count: Int)
}
