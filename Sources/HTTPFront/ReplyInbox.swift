import NIOCore
import ClstrRuntime

/// Carries replies that arrive off an event loop onto it in batches: one `execute` per batch, not per reply.
///
/// Producers (actor turns on other threads) post into a ``WakeInbox`` and schedule a drain only when none is
/// pending; the drain runs on the loop and completes each reply on its connection.
final class ReplyInbox: Sendable {
    struct Item: Sendable {
        let connection: HTTPSession<NIOTransport>
        let outcome: Outcome
        let context: UInt64
    }

    let loop: any EventLoop
    private let inbox: WakeInbox<Item>

    /// - Parameters:
    ///   - loop: the loop that drains.
    ///   - capacity: ring slots.
    init(loop: any EventLoop, capacity: Int = 4_096) {
        self.loop = loop
        self.inbox = WakeInbox(capacity: capacity)
    }

    /// Posts a reply for `connection` (from any thread but the loop's).
    func post(_ connection: HTTPSession<NIOTransport>, outcome: Outcome, context: UInt64) {
        if inbox.post(Item(connection: connection, outcome: outcome, context: context)) {
            loop.execute { self.inbox.drain { $0.connection.complete(sequence: $0.context, outcome: $0.outcome) } }
        }
    }
}
