import CNATS
import ClstrRuntime

/// The context of a node's shard subscriptions: decodes each request and hands it to the node's handler.
final class ShardServer: Sendable {
    let handler: any ShardRequestHandler
    let replier: ServeReplier
    let nodeID: String
    let defaultTimeoutNanoseconds: UInt64

    init(handler: any ShardRequestHandler, replier: ServeReplier, nodeID: String, defaultTimeoutNanoseconds: UInt64) {
        self.handler = handler
        self.replier = replier
        self.nodeID = nodeID
        self.defaultTimeoutNanoseconds = defaultTimeoutNanoseconds
    }

    /// Decodes `message`, destroys it, and hands the request to the handler (which enqueues and returns).
    func handle(_ message: OpaquePointer) {
        let reply = natsMsg_GetReply(message)
        let count = Int(natsMsg_GetDataLength(message))
        let incoming: NATSEnvelope.Incoming
        do throws(RequestError) {
            incoming = try NATSEnvelope.decodeRequest(
                UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: count))
        } catch {
            if let reply { replier.send(error, to: reply) }
            natsMsg_Destroy(message)
            return
        }
        var request = incoming.request
        // The remaining time comes from another process: saturate rather than wrap, so a huge value means "far
        // away" instead of landing in the past or on 0 ("no deadline").
        let remaining = incoming.remainingMicroseconds
        let (nanoseconds, overflowed) = remaining.multipliedReportingOverflow(by: 1_000)
        let timeout = remaining == 0 ? defaultTimeoutNanoseconds : (overflowed ? UInt64.max : nanoseconds)
        let (deadline, past) = MonotonicClock.now().addingReportingOverflow(timeout)
        request.deadline = past ? UInt64.max : deadline
        guard let reply else {
            natsMsg_Destroy(message)
            handler.handle(request, replyTo: DiscardingReplyHandler.shared, context: 0)
            return
        }
        guard let token = replier.register(reply: reply, deadline: request.deadline) else {
            replier.send(RequestError(.mailboxFull, "node \(nodeID) has too many requests in flight"), to: reply)
            natsMsg_Destroy(message)
            return
        }
        natsMsg_Destroy(message)
        handler.handle(request, replyTo: replier, context: token)
    }
}

/// The shard subscriptions' message callback (a libnats thread).
func natsShardRequestCallback(
    _ connection: OpaquePointer?, _ subscription: OpaquePointer?, _ message: OpaquePointer?,
    _ closure: UnsafeMutableRawPointer?
) {
    guard let message else { return }
    guard let closure else { return natsMsg_Destroy(message) }
    Unmanaged<ShardServer>.fromOpaque(closure).takeUnretainedValue().handle(message)
}
