import CNATS
import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Where the reply to one served request goes: the reply subject sits in the replier's arena slot, or (when longer
/// than a slot) in `overflow`.
struct ReplyAddress {
    var overflow: ContiguousArray<CChar>?
    /// For a request that came in a batch: the requester's token (the address is then its inbox, and the reply
    /// is coalesced with the others to that inbox during the replying thread's turn).
    var batchToken: UInt64 = 0
    var batched = false
}

/// The ``ReplyHandler`` every served request is answered through: one object per transport, reused, so serving a
/// request allocates no reply object. The `context` it hands out is a token into its table of reply addresses;
/// ``deliver(_:context:)`` encodes the outcome and publishes it to that address on the serving connection.
///
/// A handler that never replies leaves its address until the request's deadline, when the sweep frees it; a reply
/// after that is dropped (the requester has already been told `deadlineExceeded`).
final class ServeReplier: ReplyHandler, @unchecked Sendable {
    // @unchecked Sendable: arena slot i is written by the thread that claimed table slot i (before it arms it) and
    // read by the thread that took it (after its acquiring CAS); `SlotTable` orders the two, as for its elements.

    /// Bytes per arena slot: `_INBOX.` + a 22-character NUID + `.` + up to 16 hex digits + NUL fit in 47.
    static let slotBytes = 64

    private let connection: NATSConnection
    private let addresses: SlotTable<ReplyAddress>
    private let arena: UnsafeMutablePointer<CChar>
    /// Set once by the transport before any request is served (`nil`: replies are never coalesced).
    private let batching: NATSBatching?

    init(connection: NATSConnection, capacity: Int, batching: NATSBatching?) {
        self.connection = connection
        self.batching = batching
        self.addresses = SlotTable(capacity: capacity)
        self.arena = .allocate(capacity: addresses.capacity * Self.slotBytes)
        arena.initialize(repeating: 0, count: addresses.capacity * Self.slotBytes)
    }

    deinit { arena.deallocate() }

    /// Remembers `reply` until `deadline`.
    /// - Returns: the context to hand the request handler, or `nil` when the table is full.
    func register(reply: UnsafePointer<CChar>, deadline: UInt64) -> UInt64? {
        let length = strlen(reply)
        if length < Self.slotBytes {
            let arena = self.arena
            return addresses.claim(ReplyAddress(overflow: nil), deadline: deadline) { index in
                (arena + index * Self.slotBytes).update(from: reply, count: length + 1)
            }
        }
        let copy = ContiguousArray(UnsafeBufferPointer(start: reply, count: length + 1))
        return addresses.claim(ReplyAddress(overflow: copy), deadline: deadline)
    }

    /// Remembers the requester `inbox` (`_INBOX.<nuid>.`, not NUL-terminated) and its `token` for a request that
    /// came in a batch, until `deadline`.
    /// - Returns: the context to hand the request handler, or `nil` when the table is full.
    func register(batchedInbox inbox: UnsafeRawBufferPointer, token: UInt64, deadline: UInt64) -> UInt64? {
        let length = inbox.count
        if length < Self.slotBytes {
            let arena = self.arena
            return addresses.claim(ReplyAddress(overflow: nil, batchToken: token, batched: true), deadline: deadline) {
                index in
                let slot = arena + index * Self.slotBytes
                UnsafeMutableRawPointer(slot).copyMemory(from: inbox.baseAddress!, byteCount: length)
                slot[length] = 0
            }
        }
        var copy = Self.cString(inbox)
        copy.append(0)
        return addresses.claim(ReplyAddress(overflow: copy, batchToken: token, batched: true), deadline: deadline)
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        _ = addresses.withTaken(context) { index, address in
            if address.batched {
                return deliverBatched(reply, address: address, index: index)
            }
            var writer = ScratchWriter.take()
            defer { ScratchWriter.give(writer) }
            NATSEnvelope.encodeReply(reply, into: &writer)
            if let overflow = address.overflow {
                overflow.withUnsafeBufferPointer { publish(writer.bytes, to: $0.baseAddress!) }
            } else {
                publish(writer.bytes, to: arena + index * Self.slotBytes)
            }
        }
    }

    /// The reply to a request that came in a batch: coalesced on a thread with an open turn, else sent alone (v1)
    /// to `<inbox><token hex>`.
    private func deliverBatched(_ reply: Outcome, address: ReplyAddress, index: Int) {
        if let overflow = address.overflow {
            overflow.withUnsafeBufferPointer {
                deliverBatched(reply, token: address.batchToken, inbox: $0.baseAddress!)
            }
        } else {
            deliverBatched(reply, token: address.batchToken, inbox: arena + index * Self.slotBytes)
        }
    }

    private func deliverBatched(_ reply: Outcome, token: UInt64, inbox: UnsafePointer<CChar>) {
        // Not on a closed transport: its threads drop their batchers (and the publish would fail anyway).
        if let batching, !batching.core.isClosed, let boundary = TurnBoundary.current {
            return batching.batcher(on: boundary).appendReply(reply, token: token, inbox: inbox, boundary: boundary)
        }
        var writer = ScratchWriter.take()
        defer { ScratchWriter.give(writer) }
        NATSEnvelope.encodeReply(reply, into: &writer)
        SubjectFormat.with(
            prefix: UnsafeBufferPointer(start: inbox, count: strlen(inbox)), number: token, hex: true
        ) { subject in publish(writer.bytes, to: subject) }
    }

    /// `bytes` as characters (libnats message bytes are bound to `char` already; copying by byte avoids binding).
    private static func cString(_ bytes: UnsafeRawBufferPointer) -> ContiguousArray<CChar> {
        ContiguousArray(bytes.lazy.map { CChar(bitPattern: $0) })
    }

    /// Answers a request of a batch that never reaches a handler (malformed, or the table is full) with `error`.
    func send(_ error: RequestError, inbox: UnsafeRawBufferPointer, token: UInt64) {
        var copy = Self.cString(inbox)
        copy.append(0)
        copy.withUnsafeBufferPointer { deliverBatched(.failure(error), token: token, inbox: $0.baseAddress!) }
    }

    /// Answers a request that never reaches a handler (malformed, or the table is full) with `error`.
    func send(_ error: RequestError, to reply: UnsafePointer<CChar>) {
        var writer = ScratchWriter.take()
        defer { ScratchWriter.give(writer) }
        NATSEnvelope.encodeError(error, into: &writer)
        publish(writer.bytes, to: reply)
    }

    private func publish(_ bytes: [UInt8], to subject: UnsafePointer<CChar>) {
        // A failed reply publish (connection closed or down) is not reported: the requester's deadline, disconnect
        // or close handling answers it. A reply larger than the server's max_payload is replaced by an error that
        // says so: the request was handled, so the requester must not take it for not applied.
        let status = bytes.withUnsafeBytes { LibNATS.publish(connection.handle, subject: subject, bytes: $0) }
        guard status == .maxPayload else { return }
        NATSBatching.replaceOversizedReply(of: bytes.count, counting: batching) {
            _ = LibNATS.publish(connection.handle, subject: subject, bytes: $0)
        }
    }

    /// Frees the addresses of requests whose deadline has passed.
    func expire(now: UInt64) {
        addresses.expire(now: now) { _ in }
    }
}

/// A reply handler that drops replies (requests published without a reply subject).
final class DiscardingReplyHandler: ReplyHandler {
    static let shared = DiscardingReplyHandler()
    func deliver(_ reply: Outcome, context: UInt64) {}
}
