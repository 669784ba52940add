import Foundation

/// An event type with an explicit, stable name and a schema version.
///
/// The name is what the store keeps: moving or renaming the Swift type must not change it. A `Codable` event
/// gets JSON encoding for free (Foundation's coder: fine off the hot path); an event on a hot path implements
/// ``encodePayload()`` and ``decodePayload(_:schemaVersion:)`` itself.
///
/// ```swift
/// struct Deposited: DomainEvent, Codable {
///     static let eventType = "Deposited"
///     var amount: Int
/// }
/// ```
///
/// ## Schema versions and upcasting
/// Bump ``schemaVersion`` when the payload's shape changes, and turn older payloads into the current shape in
/// ``upcast(_:fromSchemaVersion:)`` (called before decoding any payload whose schema version is older). A payload
/// with a *newer* schema version than the code knows is refused with ``EventStoreError/Code/codec``.
public protocol DomainEvent: Sendable {
    /// The stable type name stored with every event of this type.
    static var eventType: String { get }
    /// The current schema version of the payload (default 1).
    static var schemaVersion: UInt32 { get }
    /// Encodes the event's payload.
    func encodePayload() throws -> [UInt8]
    /// Decodes a payload already upcast to ``schemaVersion``.
    static func decodePayload(_ payload: [UInt8]) throws -> Self
    /// Turns a payload of an older schema version into the current one (default: unchanged, which suits added
    /// optional fields).
    static func upcast(_ payload: [UInt8], fromSchemaVersion: UInt32) throws -> [UInt8]
}

extension DomainEvent {
    public static var schemaVersion: UInt32 { 1 }

    public static func upcast(_ payload: [UInt8], fromSchemaVersion: UInt32) throws -> [UInt8] { payload }
}

extension DomainEvent where Self: Encodable {
    /// JSON through Foundation's encoder (sorted keys, so equal events encode equally).
    public func encodePayload() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }
}

extension DomainEvent where Self: Decodable {
    /// JSON through Foundation's decoder.
    public static func decodePayload(_ payload: [UInt8]) throws -> Self {
        try JSONDecoder().decode(Self.self, from: Data(payload))
    }
}

/// Encodes an aggregate's events into ``EventData`` and decodes ``RecordedEvent``s back, by stable type name.
///
/// `Event` is the aggregate's event type: usually an enum with one case per ``DomainEvent`` type, or
/// `any DomainEvent`. Register each concrete type with how to wrap it into `Event`; give the initializer how to
/// unwrap an `Event` into its concrete event.
///
/// ```swift
/// var codec = EventCodec<AccountEvent> { event in
///     switch event {
///     case .opened(let e): e
///     case .deposited(let e): e
///     }
/// }
/// codec.register(Opened.self) { .opened($0) }
/// codec.register(Deposited.self) { .deposited($0) }
/// ```
public struct EventCodec<Event>: Sendable {
    @usableFromInline let unwrap: @Sendable (Event) -> any DomainEvent
    @usableFromInline var decoders: [String: @Sendable (RecordedEvent) -> Result<Event, EventStoreError>] = [:]

    /// - Parameter unwrap: the concrete event inside an `Event`.
    public init(unwrap: @escaping @Sendable (Event) -> any DomainEvent) {
        self.unwrap = unwrap
    }

    /// Registers a concrete event type, replacing an earlier registration of the same ``DomainEvent/eventType``.
    /// - Parameters:
    ///   - type: the concrete type.
    ///   - wrap: how it becomes an `Event`.
    public mutating func register<E: DomainEvent>(_ type: E.Type, wrap: @escaping @Sendable (E) -> Event) {
        decoders[E.eventType] = { record in
            if record.schemaVersion > E.schemaVersion {
                return .failure(
                    .codec(
                        stream: record.stream, version: record.version, type: record.type,
                        "schema version \(record.schemaVersion) is newer than this code's \(E.schemaVersion)"))
            }
            do {
                var payload = record.payload
                if record.schemaVersion < E.schemaVersion {
                    payload = try E.upcast(payload, fromSchemaVersion: record.schemaVersion)
                }
                return .success(wrap(try E.decodePayload(payload)))
            } catch {
                return .failure(
                    .codec(
                        stream: record.stream, version: record.version, type: record.type, "undecodable payload",
                        underlying: SendableErrorDescription(error)))
            }
        }
    }

    /// Whether a type name is registered.
    public func knows(type: String) -> Bool { decoders[type] != nil }

    /// Encodes an event for appending.
    /// - Parameters:
    ///   - event: the event.
    ///   - id: its ID (a fresh random one by default).
    ///   - metadata: correlation, causation, idempotency key.
    /// - Throws: ``EventStoreError/Code/codec`` when the payload cannot be encoded.
    public func encode(
        _ event: Event, id: EventID = .random(), occurredAt: EventTimestamp = .now(), metadata: EventMetadata = .none
    ) throws(EventStoreError) -> EventData {
        let concrete = unwrap(event)
        let type = Swift.type(of: concrete)
        do {
            return EventData(
                id: id, type: type.eventType, schemaVersion: type.schemaVersion, occurredAt: occurredAt,
                metadata: metadata, payload: try concrete.encodePayload())
        } catch {
            throw EventStoreError(
                .codec, "cannot encode event of type \(type.eventType)", eventType: type.eventType,
                underlying: SendableErrorDescription(error))
        }
    }

    /// Decodes a stored event.
    /// - Throws: ``EventStoreError/Code/codec`` naming stream, version and type when the type is unknown, the
    ///   schema version newer than the code's, or the payload undecodable.
    public func decode(_ record: RecordedEvent) throws(EventStoreError) -> Event {
        guard let decoder = decoders[record.type] else {
            throw .codec(stream: record.stream, version: record.version, type: record.type, "unknown event type")
        }
        return try decoder(record).get()
    }
}

/// An error kept as its description, for errors that are not `Sendable` (Foundation's decoding errors carry
/// non-sendable context).
public struct SendableErrorDescription: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ error: any Error) { description = String(describing: error) }
}
