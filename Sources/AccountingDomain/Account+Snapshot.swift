extension Account {
    /// The schema version of ``snapshotPayload()``.
    public static let snapshotSchemaVersion: UInt32 = 1

    /// The state as a snapshot payload (the binary format of ``PayloadWriter``; sorted, so equal states encode
    /// equally).
    public func snapshotPayload() -> [UInt8] {
        var writer = PayloadWriter()
        writer.write(isOpen ? 1 : 0)
        writer.write(balance)
        writer.write(varint: UInt64(debits.count))
        for (id, leg) in debits.sorted(by: { $0.key < $1.key }) {
            writer.write(id)
            writer.write(leg.counterparty)
            writer.write(leg.amount)
        }
        for set in [credits, refunds] {
            writer.write(varint: UInt64(set.count))
            for id in set.sorted() { writer.write(id) }
        }
        return writer.bytes
    }

    /// Decodes ``snapshotPayload()``.
    /// - Throws: ``PayloadError`` when the payload is malformed.
    public init(snapshotPayload payload: [UInt8]) throws(PayloadError) {
        var reader = PayloadReader(payload)
        self.init()
        isOpen = try reader.readInt64() != 0
        balance = try reader.readInt64()
        let debitCount = try reader.readVarint()
        guard debitCount <= UInt64(payload.count) else { throw PayloadError("implausible debit count") }
        for _ in 0..<debitCount {
            let id = try reader.readString()
            debits[id] = TransferLeg(counterparty: try reader.readString(), amount: try reader.readInt64())
        }
        for index in 0..<2 {
            let count = try reader.readVarint()
            guard count <= UInt64(payload.count) else { throw PayloadError("implausible set size") }
            for _ in 0..<count {
                let id = try reader.readString()
                if index == 0 { credits.insert(id) } else { refunds.insert(id) }
            }
        }
        try reader.finish()
    }
}
