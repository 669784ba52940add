import CNATS
import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Where the reply to one served request goes: the reply subject sits in the replier's arena slot, or (when longer
/// than a slot) in `overflow`.
struct ReplyAddress {
    var overflow: ContiguousArray<CChar>?
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

    init(connection: NATSConnection, capacity: Int) {
        self.connection = connection
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

    func deliver(_ reply: Outcome, context: UInt64) {
        _ = addresses.withTaken(context) { index, address in
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

    /// Answers a request that never reaches a handler (malformed, or the table is full) with `error`.
    func send(_ error: RequestError, to reply: UnsafePointer<CChar>) {
        var writer = ScratchWriter.take()
        defer { ScratchWriter.give(writer) }
        NATSEnvelope.encodeError(error, into: &writer)
        publish(writer.bytes, to: reply)
    }

    private func publish(_ bytes: [UInt8], to subject: UnsafePointer<CChar>) {
        // A failed reply publish (connection closed or down) is not reported: the requester's deadline, disconnect
        // or close handling answers it.
        _ = bytes.withUnsafeBytes { LibNATS.publish(connection.handle, subject: subject, bytes: $0) }
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
