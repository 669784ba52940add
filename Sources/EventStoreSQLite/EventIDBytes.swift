import EventSourcing

/// An ``EventID`` as the 16 big-endian bytes stored in the `event_id` column (the layout of `EventID.bytes`),
/// held inline so that binding and comparing IDs allocates nothing.
struct EventIDBytes {
    /// High and low halves, each in big-endian byte order.
    var storage: (UInt64, UInt64)

    init(_ id: EventID) {
        storage = (id.high.bigEndian, id.low.bigEndian)
    }

    init(_ raw: UnsafeRawBufferPointer) {
        storage = (
            raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        )
    }

    var id: EventID { EventID(high: UInt64(bigEndian: storage.0), low: UInt64(bigEndian: storage.1)) }

    static func == (lhs: EventIDBytes, rhs: EventIDBytes) -> Bool {
        lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1
    }
}
