import AccountingDomain
import ClstrRuntime

/// A command for one account (the cluster key is the account ID), with the caller's idempotency key ("" for
/// none). Replies with the account's state after it, or the domain error that refused it.
///
/// Three words at most (the command, whose transfer cases are indirect, and the key in a box only when there is
/// one), so that a request fits an existential's inline buffer: the cluster client carries a deposit without a
/// box allocation, and a copy retains nothing (~300 instructions per deposit under callgrind with the key inline).
struct AccountCommandRequest: ClusterMessage {
    typealias Reply = AccountReply
    static var messageType: String { "accounting.Command" }

    /// An idempotency key (never empty).
    final class Key: Sendable {
        let value: String
        init(_ value: String) { self.value = value }
    }

    var command: AccountCommand
    private var key: Key?

    /// The caller's idempotency key, "" for none.
    var idempotencyKey: String {
        get { key?.value ?? "" }
        set { key = newValue.isEmpty ? nil : Key(newValue) }
    }

    init(_ command: AccountCommand, idempotencyKey: String = "") {
        self.command = command
        self.key = idempotencyKey.isEmpty ? nil : Key(idempotencyKey)
    }

    func encode(to writer: inout WireWriter) {
        switch command {
        case .open(let initial):
            writer.write(UInt8(0))
            writer.write(initial)
        case .deposit(let amount):
            writer.write(UInt8(1))
            writer.write(amount)
        case .withdraw(let amount):
            writer.write(UInt8(2))
            writer.write(amount)
        case .debit(let transferID, let to, let amount):
            writer.write(UInt8(3))
            writer.write(transferID)
            writer.write(to)
            writer.write(amount)
        case .credit(let transferID, let from, let amount):
            writer.write(UInt8(4))
            writer.write(transferID)
            writer.write(from)
            writer.write(amount)
        case .refund(let transferID):
            writer.write(UInt8(5))
            writer.write(transferID)
        }
        writer.write(idempotencyKey)
    }

    init(from reader: inout WireReader) throws(RequestError) {
        switch try reader.readByte() {
        case 0: command = .open(initial: try reader.readInt64())
        case 1: command = .deposit(amount: try reader.readInt64())
        case 2: command = .withdraw(amount: try reader.readInt64())
        case 3:
            command = .debit(
                transferID: try reader.readString(), to: try reader.readString(), amount: try reader.readInt64())
        case 4:
            command = .credit(
                transferID: try reader.readString(), from: try reader.readString(), amount: try reader.readInt64())
        case 5: command = .refund(transferID: try reader.readString())
        case let tag: throw RequestError(.codec, "unknown account command tag \(tag)")
        }
        let key = try reader.readString()
        self.key = key.isEmpty ? nil : Key(key)
    }
}

/// Reads an account's state.
struct GetAccount: ClusterMessage {
    typealias Reply = AccountReply
    static var messageType: String { "accounting.Get" }

    init() {}
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) {}
}

/// Drops an account's in-memory entity; its next message rebuilds it from the store (the demo's proof that the
/// state lives in the events). Replies with the state it had.
struct PassivateAccount: ClusterMessage {
    typealias Reply = AccountReply
    static var messageType: String { "accounting.Passivate" }

    init() {}
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) {}
}

/// Reads an account's events as the JSON document of `GET /accounts/{id}/events` (built on the node that holds
/// the store, so that a gateway needs none).
struct ReadAccountEvents: ClusterMessage {
    typealias Reply = String
    static var messageType: String { "accounting.ReadEvents" }

    var from: UInt64
    var limit: Int

    init(from: UInt64, limit: Int) {
        self.from = from
        self.limit = limit
    }

    func encode(to writer: inout WireWriter) {
        writer.writeVarint(from)
        writer.write(limit)
    }

    init(from reader: inout WireReader) throws(RequestError) {
        from = try reader.readVarint()
        limit = try reader.readInt()
    }
}

/// An account's answer: its state after the command (or now), or the domain error that refused the command (then
/// nothing was appended and `balance`/`version` are the current ones).
///
/// Three words: the balance, the version and a shared ``Details`` object for the rest (the node's name and, rarely,
/// an error or how the entity was rebuilt), so that a reply fits an existential's inline buffer: `Outcome` carries
/// it without a box allocation, and a copy is one retain instead of two strings' (~400 instructions per deposit
/// under callgrind with the six fields inline).
struct AccountReply: WireCodable, Equatable {
    /// What a reply says beyond balance and version; an entity's successful replies share its node's one.
    final class Details: Sendable {
        /// The node that holds the account.
        let node: String
        /// The domain error's code (``AccountError/code``), "" on success.
        let error: String
        /// How the entity was last rebuilt: events replayed and the snapshot version it started from (0: none).
        let replayed: Int
        let snapshotVersion: UInt64

        init(node: String, error: String = "", replayed: Int = 0, snapshotVersion: UInt64 = 0) {
            self.node = node
            self.error = error
            self.replayed = replayed
            self.snapshotVersion = snapshotVersion
        }
    }

    var balance: Int64
    /// The stream version (0 for an account never opened).
    var version: UInt64
    let details: Details

    /// The node that holds the account.
    var node: String { details.node }
    /// The domain error's code (``AccountError/code``), "" on success.
    var error: String { details.error }
    /// How the entity was last rebuilt: events replayed and the snapshot version it started from (0: none).
    var replayed: Int { details.replayed }
    var snapshotVersion: UInt64 { details.snapshotVersion }

    func encode(to writer: inout WireWriter) {
        writer.write(node)
        writer.write(balance)
        writer.writeVarint(version)
        writer.write(error)
        writer.write(replayed)
        writer.writeVarint(snapshotVersion)
    }

    init(
        node: String, balance: Int64, version: UInt64, error: String = "", replayed: Int = 0,
        snapshotVersion: UInt64 = 0
    ) {
        self.init(
            balance: balance, version: version,
            details: Details(node: node, error: error, replayed: replayed, snapshotVersion: snapshotVersion))
    }

    /// A reply sharing `details` (an entity's successful replies share their node's).
    init(balance: Int64, version: UInt64, details: Details) {
        self.balance = balance
        self.version = version
        self.details = details
    }

    init(from reader: inout WireReader) throws(RequestError) {
        let node = try reader.readString()
        let balance = try reader.readInt64()
        let version = try reader.readVarint()
        let error = try reader.readString()
        let replayed = try reader.readInt()
        let snapshotVersion = try reader.readVarint()
        self.init(
            node: node, balance: balance, version: version, error: error, replayed: replayed,
            snapshotVersion: snapshotVersion)
    }

    static func == (lhs: AccountReply, rhs: AccountReply) -> Bool {
        lhs.balance == rhs.balance && lhs.version == rhs.version
            && (lhs.details === rhs.details
                || (lhs.node == rhs.node && lhs.error == rhs.error && lhs.replayed == rhs.replayed
                    && lhs.snapshotVersion == rhs.snapshotVersion))
    }

    /// The domain error, if the command was refused.
    var domainError: AccountError? { error.isEmpty ? nil : AccountError(code: error, balance: balance) }
}

/// Error codes of the account nodes beyond the runtime's: what a store failure means for the command.
enum AccountingErrorCode {
    /// The store refused or could not take the write: nothing was appended (503).
    static let storeUnavailable = RequestError.Code(rawValue: "store_unavailable")
    /// The stored events could not be read (500).
    static let storeCorrupt = RequestError.Code(rawValue: "store_error")
}
