import EventSourcing

// The account's events. Their `eventType` names are stored with every event: never change them (add a new type or
// bump `schemaVersion` with an upcast instead). Payloads are the small binary format of `PayloadWriter`.

/// An account was opened with an initial balance (0…Int64.max).
public struct AccountOpened: DomainEvent, Equatable {
    public static let eventType = "AccountOpened"
    public var initial: Int64

    public init(initial: Int64) { self.initial = initial }

    public func encodePayload() -> [UInt8] {
        var writer = PayloadWriter()
        writer.write(initial)
        return writer.bytes
    }

    public static func decodePayload(_ payload: [UInt8]) throws -> AccountOpened {
        var reader = PayloadReader(payload)
        let event = AccountOpened(initial: try reader.readInt64())
        try reader.finish()
        guard event.initial >= 0 else { throw PayloadError("negative initial balance") }
        return event
    }
}

/// Money was paid in.
public struct MoneyDeposited: DomainEvent, Equatable {
    public static let eventType = "MoneyDeposited"
    public var amount: Int64

    public init(amount: Int64) { self.amount = amount }

    public func encodePayload() -> [UInt8] {
        var writer = PayloadWriter()
        writer.write(amount)
        return writer.bytes
    }

    public static func decodePayload(_ payload: [UInt8]) throws -> MoneyDeposited {
        var reader = PayloadReader(payload)
        let event = MoneyDeposited(amount: try reader.readAmount())
        try reader.finish()
        return event
    }
}

/// Money was paid out.
public struct MoneyWithdrawn: DomainEvent, Equatable {
    public static let eventType = "MoneyWithdrawn"
    public var amount: Int64

    public init(amount: Int64) { self.amount = amount }

    public func encodePayload() -> [UInt8] {
        var writer = PayloadWriter()
        writer.write(amount)
        return writer.bytes
    }

    public static func decodePayload(_ payload: [UInt8]) throws -> MoneyWithdrawn {
        var reader = PayloadReader(payload)
        let event = MoneyWithdrawn(amount: try reader.readAmount())
        try reader.finish()
        return event
    }
}

/// The first leg of a transfer: money left this account for `to`.
public struct TransferDebited: DomainEvent, Equatable {
    public static let eventType = "TransferDebited"
    public var transferID: String
    public var to: String
    public var amount: Int64

    public init(transferID: String, to: String, amount: Int64) {
        self.transferID = transferID
        self.to = to
        self.amount = amount
    }

    public func encodePayload() -> [UInt8] {
        var writer = PayloadWriter()
        writer.write(transferID)
        writer.write(to)
        writer.write(amount)
        return writer.bytes
    }

    public static func decodePayload(_ payload: [UInt8]) throws -> TransferDebited {
        var reader = PayloadReader(payload)
        let event = TransferDebited(
            transferID: try reader.readString(), to: try reader.readString(), amount: try reader.readAmount())
        try reader.finish()
        return event
    }
}

/// The second leg of a transfer: money arrived from `from`.
public struct TransferCredited: DomainEvent, Equatable {
    public static let eventType = "TransferCredited"
    public var transferID: String
    public var from: String
    public var amount: Int64

    public init(transferID: String, from: String, amount: Int64) {
        self.transferID = transferID
        self.from = from
        self.amount = amount
    }

    public func encodePayload() -> [UInt8] {
        var writer = PayloadWriter()
        writer.write(transferID)
        writer.write(from)
        writer.write(amount)
        return writer.bytes
    }

    public static func decodePayload(_ payload: [UInt8]) throws -> TransferCredited {
        var reader = PayloadReader(payload)
        let event = TransferCredited(
            transferID: try reader.readString(), from: try reader.readString(), amount: try reader.readAmount())
        try reader.finish()
        return event
    }
}

/// The compensation of a transfer whose credit failed: the debited money came back.
public struct TransferRefunded: DomainEvent, Equatable {
    public static let eventType = "TransferRefunded"
    public var transferID: String
    public var amount: Int64

    public init(transferID: String, amount: Int64) {
        self.transferID = transferID
        self.amount = amount
    }

    public func encodePayload() -> [UInt8] {
        var writer = PayloadWriter()
        writer.write(transferID)
        writer.write(amount)
        return writer.bytes
    }

    public static func decodePayload(_ payload: [UInt8]) throws -> TransferRefunded {
        var reader = PayloadReader(payload)
        let event = TransferRefunded(transferID: try reader.readString(), amount: try reader.readAmount())
        try reader.finish()
        return event
    }
}

/// Every event of an account.
public enum AccountEvent: Sendable, Equatable {
    case opened(AccountOpened)
    case deposited(MoneyDeposited)
    case withdrawn(MoneyWithdrawn)
    case transferDebited(TransferDebited)
    case transferCredited(TransferCredited)
    case transferRefunded(TransferRefunded)

    /// The concrete event.
    public var domainEvent: any DomainEvent {
        switch self {
        case .opened(let event): event
        case .deposited(let event): event
        case .withdrawn(let event): event
        case .transferDebited(let event): event
        case .transferCredited(let event): event
        case .transferRefunded(let event): event
        }
    }

    /// The event ready to append: ``EventCodec/encode(_:id:occurredAt:metadata:)`` without the existential, its
    /// dynamic type lookups and the metadata's copies through `Optional` witnesses (~800 instructions per deposit
    /// under callgrind). Same type names, schema versions and payloads as the codec (a test compares them).
    /// - Parameters:
    ///   - id: the event's ID.
    ///   - occurredAt: when it happened.
    ///   - metadata: correlation, causation, idempotency key.
    /// - Returns: the event data.
    public func eventData(
        id: EventID, occurredAt: EventTimestamp = .now(), metadata: consuming EventMetadata = .none
    ) -> EventData {
        let type: String
        let schemaVersion: UInt32
        let payload: [UInt8]
        switch self {
        case .deposited(let event):
            (type, schemaVersion, payload) = (
                MoneyDeposited.eventType, MoneyDeposited.schemaVersion, event.encodePayload()
            )
        case .withdrawn(let event):
            (type, schemaVersion, payload) = (
                MoneyWithdrawn.eventType, MoneyWithdrawn.schemaVersion, event.encodePayload()
            )
        case .opened(let event):
            (type, schemaVersion, payload) = (
                AccountOpened.eventType, AccountOpened.schemaVersion, event.encodePayload()
            )
        case .transferDebited(let event):
            (type, schemaVersion, payload) = (
                TransferDebited.eventType, TransferDebited.schemaVersion, event.encodePayload()
            )
        case .transferCredited(let event):
            (type, schemaVersion, payload) = (
                TransferCredited.eventType, TransferCredited.schemaVersion, event.encodePayload()
            )
        case .transferRefunded(let event):
            (type, schemaVersion, payload) = (
                TransferRefunded.eventType, TransferRefunded.schemaVersion, event.encodePayload()
            )
        }
        return EventData(
            id: id, type: type, schemaVersion: schemaVersion, occurredAt: occurredAt, metadata: metadata,
            payload: payload)
    }

    /// Decodes a stored account event: the codec's answer, without its type-name dictionary, boxed decoder closure
    /// and generic `Result` for the current schema versions of the account's own types (the log follower and the
    /// entity's replay decode every event; `codec.decode` cost ~2,000 instructions per deposit under callgrind).
    /// Anything else (an older schema version, an unknown type, an undecodable payload) goes through ``codec``,
    /// which upcasts or names the error exactly as before.
    /// - Throws: ``EventStoreError/Code/codec`` as ``EventCodec/decode(_:)`` does.
    public static func decode(_ record: RecordedEvent) throws(EventStoreError) -> AccountEvent {
        if let event = decodeCurrent(type: record.type, schemaVersion: record.schemaVersion, payload: record.payload) {
            return event
        }
        return try codec.decode(record)
    }

    /// The event of an account event type at its current schema version from its stored fields, or nil for
    /// anything else (another type or schema version, or a payload that does not decode: ``decode(_:)`` then
    /// names the error). Takes the fields rather than the record so that a reader can lend them from its buffer
    /// without copying the whole record. Deposits first: a type name equal to the stored literal is recognised
    /// by its raw bits, the other comparisons cost more.
    /// - Parameters:
    ///   - type: the stored type name.
    ///   - schemaVersion: the stored schema version.
    ///   - payload: the stored payload.
    /// - Returns: the event, or nil.
    public static func decodeCurrent(type: String, schemaVersion: UInt32, payload: [UInt8]) -> AccountEvent? {
        func current<E: DomainEvent>(_ type: E.Type, _ wrap: (E) -> AccountEvent) -> AccountEvent? {
            guard schemaVersion == E.schemaVersion, let event = try? E.decodePayload(payload) else { return nil }
            return wrap(event)
        }
        switch type {
        case MoneyDeposited.eventType: return current(MoneyDeposited.self) { .deposited($0) }
        case MoneyWithdrawn.eventType: return current(MoneyWithdrawn.self) { .withdrawn($0) }
        case AccountOpened.eventType: return current(AccountOpened.self) { .opened($0) }
        case TransferDebited.eventType: return current(TransferDebited.self) { .transferDebited($0) }
        case TransferCredited.eventType: return current(TransferCredited.self) { .transferCredited($0) }
        case TransferRefunded.eventType: return current(TransferRefunded.self) { .transferRefunded($0) }
        default: return nil
        }
    }

    /// The codec of account events, by their stable type names.
    public static let codec: EventCodec<AccountEvent> = {
        var codec = EventCodec<AccountEvent> { $0.domainEvent }
        codec.register(AccountOpened.self) { .opened($0) }
        codec.register(MoneyDeposited.self) { .deposited($0) }
        codec.register(MoneyWithdrawn.self) { .withdrawn($0) }
        codec.register(TransferDebited.self) { .transferDebited($0) }
        codec.register(TransferCredited.self) { .transferCredited($0) }
        codec.register(TransferRefunded.self) { .transferRefunded($0) }
        return codec
    }()
}
