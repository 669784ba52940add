/// What travels with an event besides its payload.
public struct EventMetadata: Hashable, Sendable {
    /// The ID shared by everything one request caused (for tracing across services).
    public var correlationID: String?
    /// The ID of the message (command or event) that caused this event.
    public var causationID: String?
    /// The caller's idempotency key of the command that produced this event (for example an HTTP
    /// `Idempotency-Key`), kept so that a handler can recognise a repeated command. Stores only keep it; event
    /// IDs are what make an append idempotent.
    public var idempotencyKey: String?

    public init(correlationID: String? = nil, causationID: String? = nil, idempotencyKey: String? = nil) {
        self.correlationID = correlationID
        self.causationID = causationID
        self.idempotencyKey = idempotencyKey
    }

    /// No metadata.
    public static var none: EventMetadata { EventMetadata() }
}

/// One event to append: its identity, type and encoded payload. The store assigns version and position.
public struct EventData: Hashable, Sendable {
    /// Unique across the store; the key of idempotent appends.
    public var id: EventID
    /// The stable type name (``DomainEvent/eventType``), never a reflection name.
    public var type: String
    /// The schema version of `payload` (``DomainEvent/schemaVersion``); readers upcast older versions.
    public var schemaVersion: UInt32
    /// When the event happened (wall clock).
    public var occurredAt: EventTimestamp
    public var metadata: EventMetadata
    /// The encoded event (format chosen by the event type: JSON by default).
    public var payload: [UInt8]

    public init(
        id: EventID = .random(), type: String, schemaVersion: UInt32 = 1, occurredAt: EventTimestamp = .now(),
        metadata: EventMetadata = .none, payload: [UInt8]
    ) {
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.occurredAt = occurredAt
        self.metadata = metadata
        self.payload = payload
    }
}

/// An event as stored: the appended ``EventData`` plus the stream, version and global position the store gave it.
public struct RecordedEvent: Hashable, Sendable {
    public var id: EventID
    /// The stream (aggregate type + ID) the event belongs to.
    public var stream: StreamName
    /// The event's version in its stream: 1 for the first event, then 2, 3… with no gaps.
    public var version: UInt64
    /// The event's position in the store's global log: ≥ 1, strictly increasing in commit order across all
    /// streams, not necessarily contiguous (a store may leave gaps).
    public var position: UInt64
    public var type: String
    public var schemaVersion: UInt32
    public var occurredAt: EventTimestamp
    public var metadata: EventMetadata
    public var payload: [UInt8]

    public init(
        id: EventID, stream: StreamName, version: UInt64, position: UInt64, type: String, schemaVersion: UInt32,
        occurredAt: EventTimestamp, metadata: EventMetadata, payload: [UInt8]
    ) {
        self.id = id
        self.stream = stream
        self.version = version
        self.position = position
        self.type = type
        self.schemaVersion = schemaVersion
        self.occurredAt = occurredAt
        self.metadata = metadata
        self.payload = payload
    }

    /// Builds the record of `data` appended to `stream` at `version` and `position`.
    public init(_ data: EventData, stream: StreamName, version: UInt64, position: UInt64) {
        self.init(
            id: data.id, stream: stream, version: version, position: position, type: data.type,
            schemaVersion: data.schemaVersion, occurredAt: data.occurredAt, metadata: data.metadata,
            payload: data.payload)
    }

    /// The event as it was appended (without version and position).
    public var data: EventData {
        EventData(
            id: id, type: type, schemaVersion: schemaVersion, occurredAt: occurredAt, metadata: metadata,
            payload: payload)
    }
}

/// What an append expects of its stream's version before it writes (KurrentDB's set). A stream's version is the
/// version of its last event: 0 while it has none.
public enum ExpectedVersion: Hashable, Sendable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream has no events (version 0).
    case noStream
    /// The stream has at least one event.
    case exists
    /// The stream's version is exactly this; `.exact(0)` is the same as `.noStream`.
    case exact(UInt64)

    /// Whether a stream at `current` satisfies this expectation.
    @inlinable
    public func isSatisfied(by current: UInt64) -> Bool {
        switch self {
        case .any: return true
        case .noStream: return current == 0
        case .exists: return current > 0
        case .exact(let version): return current == version
        }
    }

    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "no stream"
        case .exists: return "exists"
        case .exact(let version): return "exact(\(version))"
        }
    }
}

/// The outcome of a successful append; a retried append (same event IDs) returns the original one.
public struct AppendResult: Hashable, Sendable {
    /// The version of the append's first event.
    public var firstVersion: UInt64
    /// The version of the append's last event: the stream's version after the append, and the `expected`
    /// value (``ExpectedVersion/exact(_:)``) of the writer's next append.
    public var lastVersion: UInt64
    /// The global position of the append's first event.
    public var firstPosition: UInt64
    /// The global position of the append's last event.
    public var lastPosition: UInt64

    public init(firstVersion: UInt64, lastVersion: UInt64, firstPosition: UInt64, lastPosition: UInt64) {
        self.firstVersion = firstVersion
        self.lastVersion = lastVersion
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
    }
}
