import Foundation

/// Domain logic as two pure functions over a value: `decide` (command + state → events or a domain error) and
/// `evolve` (state + event → state). No store, no actor: test it as values — given events, when a command, then
/// events or an error.
///
/// ```swift
/// struct Account: Aggregate, Codable {
///     static let aggregateType = "Account"
///     static let eventCodec: EventCodec<AccountEvent> = ...
///     var balance = 0
///     func decide(_ command: AccountCommand) throws(AccountError) -> [AccountEvent] { ... }
///     mutating func evolve(_ event: AccountEvent) { ... }
/// }
/// ```
///
/// A `Codable` aggregate can be snapshotted as JSON; another one implements ``encodeSnapshot()`` and
/// ``decodeSnapshot(_:)``. Bump ``snapshotSchemaVersion`` when the state's shape changes: snapshots of another
/// schema are ignored (the aggregate is replayed from its events).
public protocol Aggregate: Sendable {
    associatedtype Command: Sendable
    associatedtype Event: Sendable
    associatedtype Failure: Error & Sendable

    /// The stable aggregate type: the first part of every stream name (``StreamName/aggregateType``).
    static var aggregateType: String { get }
    /// How events are stored (stable type names, schema versions).
    static var eventCodec: EventCodec<Event> { get }
    /// The schema version of snapshots of this state (default 1).
    static var snapshotSchemaVersion: UInt32 { get }

    /// The state before any event.
    init()

    /// Decides what a command does to the current state: the events to append (none is fine: the command
    /// changes nothing), or a domain error.
    func decide(_ command: Command) throws(Failure) -> [Event]

    /// Applies one event to the state. Must not fail: events are facts already stored.
    mutating func evolve(_ event: Event)

    /// Encodes the state for a snapshot; `nil` when this aggregate is not snapshotted (the default for
    /// non-`Codable` aggregates).
    func encodeSnapshot() throws -> [UInt8]?

    /// Decodes a snapshot of the current ``snapshotSchemaVersion``.
    static func decodeSnapshot(_ payload: [UInt8]) throws -> Self
}

extension Aggregate {
    public static var snapshotSchemaVersion: UInt32 { 1 }

    public func encodeSnapshot() throws -> [UInt8]? { nil }

    public static func decodeSnapshot(_ payload: [UInt8]) throws -> Self {
        throw EventStoreError(.codec, "\(Self.aggregateType) does not decode snapshots")
    }

    /// The stream of the aggregate `id`.
    public static func stream(_ id: String) -> StreamName {
        StreamName(aggregateType: aggregateType, aggregateID: id)
    }

    /// Replays `events` onto the initial state (for tests and full replays).
    public static func replay(_ events: some Sequence<Event>) -> Self {
        var state = Self()
        for event in events { state.evolve(event) }
        return state
    }
}

extension Aggregate where Self: Codable {
    /// JSON through Foundation's encoder (off the hot path: once every N events).
    public func encodeSnapshot() throws -> [UInt8]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    public static func decodeSnapshot(_ payload: [UInt8]) throws -> Self {
        try JSONDecoder().decode(Self.self, from: Data(payload))
    }
}

/// An aggregate's state together with where it stands in its stream.
public struct AggregateRoot<A: Aggregate>: Sendable {
    /// The aggregate's ID (its stream is `A.stream(id)`).
    public let id: String
    /// The state after every event up to ``version``.
    public var state: A
    /// The version of the last event applied (0: no events); the expected version of the next append.
    public var version: UInt64
    /// The global position of the last event applied (0 when unknown).
    public var position: UInt64
    /// The version of the newest snapshot known to be stored (0: none).
    public var snapshotVersion: UInt64

    public init(id: String, state: A = A(), version: UInt64 = 0, position: UInt64 = 0, snapshotVersion: UInt64 = 0) {
        self.id = id
        self.state = state
        self.version = version
        self.position = position
        self.snapshotVersion = snapshotVersion
    }

    /// The stream of this aggregate.
    public var stream: StreamName { A.stream(id) }
}
