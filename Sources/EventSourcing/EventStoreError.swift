/// The error of every event-sourcing operation: a code, a message, and the facts a caller may act on.
///
/// ```swift
/// do { try await store.append(to: stream, expected: .exact(3), events: events) }
/// catch let error where error.code == .conflict { reload(from: error.actualVersion!) }
/// ```
public struct EventStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The stream's version did not satisfy the append's ``ExpectedVersion``; nothing was stored.
        /// ``EventStoreError/actualVersion`` holds the stream's version at the check (0: no stream).
        public static let conflict = Code("conflict")
        /// The thing asked for does not exist (where absence is an error; reading a missing stream is not).
        public static let notFound = Code("notFound")
        /// An event or snapshot could not be encoded or decoded: unknown type, undecodable payload, unsupported
        /// schema version. ``EventStoreError/stream``, ``EventStoreError/version`` and
        /// ``EventStoreError/eventType`` name it.
        public static let codec = Code("codec")
        /// An event ID of the append is already stored, and the append is not a retry of the append that stored
        /// it (a different stream, a different set of IDs, or a partial overlap); nothing was stored.
        public static let duplicateEventID = Code("duplicateEventID")
        /// The request was malformed (invalid stream name, empty append, zero count…); nothing was done.
        public static let invalidArgument = Code("invalidArgument")
        /// The backend cannot be reached or refused the operation; nothing was done (safe to retry).
        public static let backendUnavailable = Code("backendUnavailable")
        /// The backend failed in a way that leaves the outcome unknown (a timeout after the request was sent,
        /// a connection lost before the acknowledgement): the append may or may not be stored. Retrying with the
        /// same event IDs is safe (idempotent append).
        public static let outcomeUnknown = Code("outcomeUnknown")
        /// The store was closed; nothing was done.
        public static let closed = Code("closed")
        /// The stored data is not usable by this version of the code: not a database of ours, a newer schema,
        /// a corrupt record. The store refuses to open or to serve it.
        public static let incompatibleStorage = Code("incompatibleStorage")
        /// An aggregate's command handler rejected the command (``EventStoreError/domain`` holds its error);
        /// nothing was stored.
        public static let rejected = Code("rejected")
        /// The operation did not finish within its deadline; the outcome of an append is then unknown as for
        /// ``outcomeUnknown``.
        public static let timeout = Code("timeout")
    }

    public var code: Code
    /// A human-readable explanation (for logs and operators, not for matching).
    public var message: String
    /// The stream concerned, when there is one.
    public var stream: StreamName?
    /// ``Code/conflict``: the stream's actual version at the check (0 when the stream has no events).
    public var actualVersion: UInt64?
    /// ``Code/codec``: the version of the event (or snapshot) that failed.
    public var version: UInt64?
    /// ``Code/codec``: the stored type name of the event that failed.
    public var eventType: String?
    /// ``Code/rejected``: the domain error the aggregate's `decide` threw.
    public var domain: (any Error & Sendable)?
    /// The underlying error (a SQLite or NATS status, a decoder's error), when there is one.
    public var underlying: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, stream: StreamName? = nil, actualVersion: UInt64? = nil,
        version: UInt64? = nil, eventType: String? = nil, domain: (any Error & Sendable)? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.stream = stream
        self.actualVersion = actualVersion
        self.version = version
        self.eventType = eventType
        self.domain = domain
        self.underlying = underlying
    }

    /// A conflict: `expected` did not hold for `stream` at `actual`.
    public static func conflict(stream: StreamName, expected: ExpectedVersion, actual: UInt64) -> EventStoreError {
        EventStoreError(
            .conflict, "expected version \(expected) of \(stream), actual version \(actual)", stream: stream,
            actualVersion: actual)
    }

    /// A codec failure for the event at `version` of `stream` with type `type`.
    public static func codec(
        stream: StreamName, version: UInt64, type: String, _ message: String, underlying: (any Error & Sendable)? = nil
    ) -> EventStoreError {
        EventStoreError(
            .codec, "event \(stream)@\(version) of type \(type): \(message)", stream: stream, version: version,
            eventType: type, underlying: underlying)
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let underlying { text += " (\(underlying))" }
        return text
    }
}
