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

    /// Anchors a relative deadline from another process to this process's clock.
    private func deadline(remainingMicroseconds remaining: UInt64, now: UInt64) -> UInt64 {
        // The remaining time comes from another process: saturate rather than wrap, so a huge value means "far
        // away" instead of landing in the past or on 0 ("no deadline").
        let (nanoseconds, overflowed) = remaining.multipliedReportingOverflow(by: 1_000)
        let timeout = remaining == 0 ? defaultTimeoutNanoseconds : (overflowed ? UInt64.max : nanoseconds)
        let (deadline, past) = now.addingReportingOverflow(timeout)
        return past ? UInt64.max : deadline
    }

    /// Decodes `message`, destroys it, and hands the request (or each request of a batch) to the handler (which
    /// enqueues and returns).
    func handle(_ message: OpaquePointer) {
        let reply = natsMsg_GetReply(message)
        let count = Int(natsMsg_GetDataLength(message))
        let bytes = UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: count)
        if NATSEnvelope.isBatch(bytes) {
            handleBatch(bytes, reply: reply)
            natsMsg_Destroy(message)
            return
        }
        let incoming: NATSEnvelope.Incoming
        do throws(RequestError) {
            incoming = try NATSEnvelope.decodeRequest(bytes)
        } catch {
            if let reply { replier.send(error, to: reply) }
            natsMsg_Destroy(message)
            return
        }
        var request = incoming.request
        request.deadline = deadline(remainingMicroseconds: incoming.remainingMicroseconds, now: MonotonicClock.now())
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

extension ShardServer {
    /// Hands each request of a batch to the handler, each with its own deadline and reply address, as one turn:
    /// what is answered at once (errors, node info) goes back coalesced when the batch is done.
    fileprivate func handleBatch(_ bytes: UnsafeRawBufferPointer, reply: UnsafePointer<CChar>?) {
        let header: (inbox: UnsafeRawBufferPointer, entries: Int)
        do throws(RequestError) {
            header = try NATSEnvelope.decodeRequestBatchHeader(bytes)
        } catch {
            // No inbox to answer the entries: the batch's last request hears the error, the rest time out.
            if let reply { replier.send(error, to: reply) }
            return
        }
        let now = MonotonicClock.now()
        TurnBoundary.run {
            do throws(RequestError) {
                try NATSEnvelope.forEachEntry(bytes, from: header.entries) { token, frame in
                    handleEntry(frame, token: token, inbox: header.inbox, now: now)
                }
            } catch {
                // A malformed entry: the requests after it end by their deadline.
            }
        }
    }

    private func handleEntry(_ frame: UnsafeRawBufferPointer, token: UInt64, inbox: UnsafeRawBufferPointer, now: UInt64)
    {
        let incoming: NATSEnvelope.Incoming
        do throws(RequestError) {
            incoming = try NATSEnvelope.decodeRequest(frame)
        } catch {
            return replier.send(error, inbox: inbox, token: token)
        }
        var request = incoming.request
        request.deadline = deadline(remainingMicroseconds: incoming.remainingMicroseconds, now: now)
        guard let context = replier.register(batchedInbox: inbox, token: token, deadline: request.deadline) else {
            return replier.send(
                RequestError(.mailboxFull, "node \(nodeID) has too many requests in flight"), inbox: inbox, token: token
            )
        }
        handler.handle(request, replyTo: replier, context: context)
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
