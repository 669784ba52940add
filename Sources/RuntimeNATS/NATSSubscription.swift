import CNATS
import Synchronization

/// An asynchronous libnats subscription, owning its `natsSubscription*` and the context object its callback uses.
///
/// The context is retained for libnats and released by the subscription's completion callback, which libnats
/// calls once the subscription is closed (unsubscribed, or its connection closed) and the message callback has
/// returned for the last time, so the callback never sees a freed context.
final class NATSSubscription: @unchecked Sendable {
    // @unchecked Sendable: `handle` is immutable and libnats subscriptions are thread-safe for unsubscribe;
    // destroy happens only in deinit. `isUnsubscribed` is atomic.
    let handle: OpaquePointer
    /// Keeps the connection (and so the `natsConnection*`) alive as long as the subscription.
    let connection: NATSConnection
    private let isUnsubscribed = Atomic<Bool>(false)

    /// Subscribes `callback` to `subject` with `context` as its closure argument, with the pending limits lifted
    /// (`natsSubscription_SetPendingLimits(sub, -1, -1)`) so that bursts are never dropped as a slow consumer.
    /// - Parameters:
    ///   - connection: the connection.
    ///   - subject: the subject (wildcards allowed).
    ///   - callback: a top-level C callback.
    ///   - context: the object the callback receives (unretained) through `closure`.
    /// - Throws: ``NATSError`` when libnats refuses the subscription.
    init(
        connection: NATSConnection, subject: String, callback: natsMsgHandler, context: AnyObject
    ) throws(NATSError) {
        let retained = Unmanaged<AnyObject>.passRetained(context)
        var subscription: OpaquePointer?
        let status = LibNATS.subscribe(
            &subscription, connection.handle, subject: subject, callback: callback, closure: retained.toOpaque())
        guard status == .ok, let subscription else {
            retained.release()  // no subscription exists, so no callback can run
            throw NATSError(status: status, operation: "natsConnection_Subscribe")
        }
        if LibNATS.setOnComplete(subscription, callback: natsSubscriptionCompleteCallback, closure: retained.toOpaque())
            != .ok
        {
            // Only fails when the subscription is already closed; the context then stays retained (leaked) because
            // a last message callback could still be running.
        }
        _ = LibNATS.setPendingLimits(subscription, messages: -1, bytes: -1)
        self.handle = subscription
        self.connection = connection
    }

    /// Subscribes `callback` through an ordered push consumer of `stream` filtered on `subject` (JetStream
    /// `js_Subscribe` with `Ordered`), delivering stored messages from `startSequence` (0: only new messages).
    /// Ordered consumers recreate themselves after a gap or a reconnect, so the callback sees every stored message
    /// from the start point once, in stream order; take the stream sequence from `natsMsg_GetMetaData`.
    /// - Parameters:
    ///   - context: the JetStream context.
    ///   - stream: the stream (bound by name: no lookup request).
    ///   - subject: the filter subject (wildcards allowed).
    ///   - startSequence: the first sequence to deliver, or 0 for new messages only.
    ///   - headersOnly: deliver headers and metadata without the payload.
    ///   - callback: a top-level C callback, which must destroy each message.
    ///   - context: the object the callback receives (unretained) through `closure`.
    /// - Throws: ``NATSError`` when libnats or the server refuses the consumer.
    init(
        jetStream: JetStreamContext, stream: String, subject: String, startSequence: UInt64, headersOnly: Bool,
        callback: natsMsgHandler, context: AnyObject
    ) throws(NATSError) {
        let retained = Unmanaged<AnyObject>.passRetained(context)
        var options = jsSubOptions()
        jsSubOptions_Init(&options)
        options.Ordered = true
        options.Config.HeadersOnly = headersOnly
        if startSequence > 0 {
            options.Config.DeliverPolicy = js_DeliverByStartSequence
            options.Config.OptStartSeq = startSequence
        } else {
            options.Config.DeliverPolicy = js_DeliverNew
        }
        var errorCode = jsErrCode(0)
        var subscription: OpaquePointer?
        let status = stream.withCString { name in
            options.Stream = name
            return LibNATS.subscribe(
                &subscription, jetStream.handle, subject: subject, callback: callback, closure: retained.toOpaque(),
                options: &options, errorCode: &errorCode)
        }
        guard status == .ok, let subscription else {
            retained.release()  // no subscription exists, so no callback can run
            throw NATSError(status: status, operation: "js_Subscribe", jetStreamCode: errorCode)
        }
        _ = LibNATS.setOnComplete(
            subscription, callback: natsSubscriptionCompleteCallback, closure: retained.toOpaque())
        _ = LibNATS.setPendingLimits(subscription, messages: -1, bytes: -1)
        self.handle = subscription
        self.connection = jetStream.connection
    }

    /// Removes the interest; idempotent. The completion callback then releases the context.
    func unsubscribe() {
        // Acquiring-and-releasing: the flag guards no other data; the exchange only has to pick one caller.
        guard !isUnsubscribed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = LibNATS.unsubscribe(handle)
    }

    deinit {
        unsubscribe()
        natsSubscription_Destroy(handle)
    }
}

/// Releases the context retained by ``NATSSubscription/init(connection:subject:callback:context:)``.
func natsSubscriptionCompleteCallback(_ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    Unmanaged<AnyObject>.fromOpaque(closure).release()
}
