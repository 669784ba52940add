import CNATS
import ClstrRuntime
import Synchronization

/// One request waiting for its reply.
///
/// Its slot's link word (``SlotTable/link(of:)``) is the token of the request before it in the same batch
/// (``noPrevious`` for the first or a single one): a batch's no-responders status or failed publish walks this
/// chain from the batch's last request, past requests that already ended (their slots keep the link until they
/// are claimed again).
struct PendingRequest {
    var handler: any ReplyHandler
    var context: UInt64
    var shard: Int

    static let noPrevious = UInt64.max
}

/// The requesting half of a ``NATSTransport``: the pending table, the inbox, and the connection state, shared with
/// the libnats callbacks (the inbox's message callback, the request connection's event callbacks).
final class RequestCore: Sendable {
    static let closedError = RequestError(.transportClosed, "the NATS transport is closed")
    static let disconnectedError = RequestError(
        .disconnected, "the NATS connection is down (reconnecting); the request was not sent")
    /// For requests already published when the connection was lost: the node may have applied them.
    static let lostInFlightError = RequestError(
        .outcomeUnknown, "the NATS connection was lost with the request in flight: it may or may not have been applied")
    /// For requests already published when the transport closed.
    static let closedInFlightError = RequestError(
        .outcomeUnknown, "the NATS transport closed with the request in flight: it may or may not have been applied")
    static let expiredError = RequestError(.deadlineExceeded, "no reply within the request's deadline")
    static let tableFullError = RequestError(.mailboxFull, "too many requests in flight on this NATS transport")

    let pending: SlotTable<PendingRequest>
    /// `_INBOX.<nuid>`: the transport subscribes `<inboxSubject>.*`.
    let inboxSubject: String
    /// `_INBOX.<nuid>.` without the terminating NUL; reply subjects append the token in hex.
    let inboxPrefix: ContiguousArray<CChar>
    private let connected = Atomic<Bool>(true)
    private let closed = Atomic<Bool>(false)

    init(capacity: Int, inbox: String) {
        self.pending = SlotTable(capacity: capacity, withLinks: true)
        self.inboxSubject = inbox
        self.inboxPrefix = ContiguousArray((inbox + ".").utf8CString.dropLast())
    }

    // Relaxed loads of `connected` and `closed`: they gate new requests only; a request that races with a state
    // change is still answered (by the disconnect or close sweep, the publish status, or its deadline).
    var isConnected: Bool { connected.load(ordering: .relaxed) }
    var isClosed: Bool { closed.load(ordering: .relaxed) }

    /// Marks the core closed; returns whether this call did it.
    func markClosed() -> Bool {
        // Acquiring-and-releasing: picks the one closing caller; the pending table's own atomics order the rest.
        !closed.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// The request connection is down: new requests fail at once (not sent), and pending ones — published, so
    /// possibly applied — fail now with `outcomeUnknown`.
    func connectionLost() {
        connected.store(false, ordering: .relaxed)  // relaxed: see `isConnected`
        failAll(isClosed ? Self.closedInFlightError : Self.lostInFlightError)
    }

    func connectionRestored() {
        connected.store(true, ordering: .relaxed)  // relaxed: see `isConnected`
    }

    /// Fails every pending request with `error`.
    func failAll(_ error: RequestError) {
        pending.takeAll { entry in entry.handler.deliver(.failure(error), context: entry.context) }
    }

    /// Fails pending requests whose deadline has passed.
    func expire(now: UInt64) {
        pending.expire(now: now) { entry in entry.handler.deliver(.failure(Self.expiredError), context: entry.context) }
    }

    /// Fails the request `token` and the ones before it in its batch (see ``PendingRequest``), with `error` or
    /// `makeError(entry)`. Requests of the chain that already ended (answered, expired) are stepped over; the walk
    /// stops at the batch's first request, or where a slot was claimed again (the requests before it then end
    /// by their deadline).
    func failChain(from token: UInt64, _ error: RequestError) {
        failChain(from: token) { _ in error }
    }

    func failChain(from token: UInt64, _ makeError: (PendingRequest) -> RequestError) {
        var next = token
        while true {
            // The link first: once the entry is taken, its handler may claim the slot again.
            guard let previous = pending.link(of: next) else { return }
            if let entry = pending.take(next) {
                entry.handler.deliver(.failure(makeError(entry)), context: entry.context)
            }
            guard previous != PendingRequest.noPrevious else { return }
            next = previous
        }
    }

    /// Completes the requests a reply batch answers; destroys the message.
    private func handleReplyBatch(_ message: OpaquePointer, _ bytes: UnsafeRawBufferPointer) {
        do throws(RequestError) {
            let entries = try NATSEnvelope.replyBatchEntries(bytes)
            // One turn: requests the reply handlers send meanwhile (a pipelining client) leave batched too.
            try TurnBoundary.run { () throws(RequestError) in
                try NATSEnvelope.forEachEntry(bytes, from: entries) { token, frame in
                    // A late reply (deadline passed, or failed on disconnect): nobody waits.
                    guard let entry = pending.take(token) else { return }
                    entry.handler.deliver(NATSEnvelope.decodeReply(frame), context: entry.context)
                }
            }
        } catch {
            // A malformed batch: the requests it did not answer end by their deadline.
        }
        natsMsg_Destroy(message)
    }

    /// Completes the request a message on the inbox answers (or the requests of a reply batch); destroys the
    /// message.
    func handleReply(_ message: OpaquePointer) {
        let bytes = UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: Int(natsMsg_GetDataLength(message)))
        if NATSEnvelope.isBatch(bytes) { return handleReplyBatch(message, bytes) }
        guard let subject = natsMsg_GetSubject(message), let token = SubjectFormat.parseTrailingHex(subject) else {
            natsMsg_Destroy(message)
            return
        }
        if natsMsg_IsNoResponders(message) {
            // The request (or the batch whose last request `token` is) reached nobody: fail the whole chain, also
            // when its last request already expired.
            natsMsg_Destroy(message)
            failChain(from: token) { entry in RequestError(.noResponder, "no node serves shard \(entry.shard)") }
            return
        }
        guard let entry = pending.take(token) else {
            natsMsg_Destroy(message)  // a late reply (deadline passed, or failed on disconnect): nobody waits
            return
        }
        let outcome = NATSEnvelope.decodeReply(bytes)
        natsMsg_Destroy(message)
        entry.handler.deliver(outcome, context: entry.context)
    }
}

/// The inbox subscription's message callback (a libnats thread): hands the reply to its pending request.
func natsTransportReplyCallback(
    _ connection: OpaquePointer?, _ subscription: OpaquePointer?, _ message: OpaquePointer?,
    _ closure: UnsafeMutableRawPointer?
) {
    guard let message else { return }
    guard let closure else { return natsMsg_Destroy(message) }
    Unmanaged<RequestCore>.fromOpaque(closure).takeUnretainedValue().handleReply(message)
}
