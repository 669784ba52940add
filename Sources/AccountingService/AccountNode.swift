import AccountingDomain
import ClstrRuntime
import EventSourcing
import Logging
import RuntimeNATS
import Synchronization

/// The accounts of one node: an entity per account, loaded from the store on its first message (snapshot, then
/// the stream's tail), running one command at a time, answering after the append is durable.
///
/// Every store call completes on whatever thread the store chooses (the caller's for the memory store, the
/// group-commit writer's for SQLite); nothing here blocks or hops through Swift concurrency.
final class AccountNode: ShardRequestHandler {
    let nodeID: String
    let store: any EventStore
    let snapshots: (any SnapshotStore)?
    /// A snapshot is saved when an entity's version passes a multiple of this (0: never).
    let snapshotEvery: UInt64
    /// How many idempotency keys each account remembers in memory (``RecentAnswers``); older ones are looked up
    /// in the store when a retry carries one.
    let idempotencyWindow: Int
    /// Whether keyed commands may share an append with the commands before them (false: a keyed command always
    /// starts its own append). A keyed command's event IDs are derived from its key, and a retry whose key left
    /// ``idempotencyWindow`` is recognised by the store alone; the JetStream store recognises a stored event ID
    /// only as an append's *first* one (its `Nats-Msg-Id`) unless its event-ID markers are on. Grouped
    /// `[a, k]`, then retried alone as `[k]` after the window, `k` would be appended a second time.
    let keyedCommandsShareAppends: Bool
    let logger: Logger
    /// What this node's successful replies say beyond balance and version (shared by all of them).
    let replyDetails: AccountReply.Details
    private let stripes: [EntityStripe]

    init(
        nodeID: String, store: any EventStore, snapshots: (any SnapshotStore)?, snapshotEvery: UInt64 = 100,
        idempotencyWindow: Int = 1024, logger: Logger
    ) {
        self.idempotencyWindow = max(1, idempotencyWindow)
        self.nodeID = nodeID
        self.replyDetails = AccountReply.Details(node: nodeID)
        self.store = store
        self.snapshots = snapshots
        self.snapshotEvery = snapshotEvery
        if let jetStream = store as? JetStreamEventStore {
            keyedCommandsShareAppends = jetStream.configuration.detectsRepeatedEventIDs
        } else {
            // Memory and SQLite refuse a stored event ID at any place of an append, for ever.
            keyedCommandsShareAppends = true
        }
        self.logger = logger
        stripes = (0..<64).map { _ in EntityStripe() }
    }

    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        let message: any Sendable
        switch request.payload {
        case .value(let value):
            message = value
        case .bytes(let bytes):
            var reader = WireReader(bytes)
            do throws(RequestError) {
                switch request.messageType {
                case AccountCommandRequest.messageType: message = try AccountCommandRequest(from: &reader)
                case GetAccount.messageType: message = try GetAccount(from: &reader)
                case PassivateAccount.messageType: message = try PassivateAccount(from: &reader)
                case ReadAccountEvents.messageType: message = try ReadAccountEvents(from: &reader)
                default:
                    throw RequestError(.noHandler, "no message type \"\(request.messageType)\" is registered")
                }
            } catch {
                return replyTo.deliver(.failure(error), context: context)
            }
        }
        guard AccountID.isValid(request.key) else {
            return replyTo.deliver(.failure(RequestError(.badRequest, "invalid account ID")), context: context)
        }
        submit(AccountWork(message: message, replyTo: replyTo, context: context), to: request.key)
    }

    /// Queues `work` on the entity of `id`, creating it if needed (again if it was passivated meanwhile).
    func submit(_ work: AccountWork, to id: String) {
        while true {
            let entity = stripes[stripe(id)].table.withLock { table in
                // The stripe's last entity first: a hot account skips the dictionary's hash of its ID.
                if let last = table.last, last.id == id { return last }
                let entity: AccountEntity
                if let known = table.entities[id] {
                    entity = known
                } else {
                    entity = AccountEntity(id: id, node: self)
                    table.entities[id] = entity
                }
                table.last = entity
                return entity
            }
            if entity.submit(work) { return }
        }
    }

    /// Removes a passivated entity (only if it is still the one in the table).
    func remove(_ entity: AccountEntity) {
        stripes[stripe(entity.id)].table.withLock { table in
            if table.entities[entity.id] === entity { table.entities[entity.id] = nil }
            if table.last === entity { table.last = nil }
        }
    }

    /// The number of live entities.
    var count: Int { stripes.reduce(0) { $0 + $1.table.withLock { $0.entities.count } } }

    /// The stripe of `id`: FNV-1a over its bytes, not `hashValue` (a second SipHash of the ID per message beside
    /// the stripe dictionary's own, ~225 instructions under callgrind). The stripe only spreads lock contention.
    private func stripe(_ id: String) -> Int {
        var id = id
        return id.withUTF8 { bytes in
            var hash: UInt32 = 0x811C_9DC5
            for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
            return Int((hash ^ (hash >> 16)) & 63)
        }
    }
}

/// One lock stripe of a node's entity table.
final class EntityStripe: Sendable {
    struct Table {
        var entities: [String: AccountEntity] = [:]
        /// The entity last looked up (a hot account's, usually): compared by ID before the dictionary is hashed
        /// (~300 instructions per message under callgrind).
        var last: AccountEntity?
    }

    let table = Mutex(Table())
}

/// One message for an account, with where its answer goes.
///
/// A class: a message passes through the entity's queue, its batch and the append's completion, and each of those
/// copies of a struct this size (two existentials, the command and its strings) cost ~170 instructions to copy and
/// ~100 to destroy under callgrind (~1,800 per deposit); a reference costs a retain.
final class AccountWork: Sendable {
    let message: any Sendable
    /// `message` when it is a command: cast once here, not on every look at the queue.
    let command: AccountCommandRequest?
    let replyTo: any ReplyHandler
    let context: UInt64
    /// How many times the entity decided this message again after a reload (see `AccountEntity.retry`).
    let attempt: Int

    init(message: any Sendable, replyTo: any ReplyHandler, context: UInt64) {
        self.message = message
        self.command = Self.command(message)
        self.replyTo = replyTo
        self.context = context
        self.attempt = 0
    }

    /// `work` once more, one attempt later.
    init(retrying work: AccountWork) {
        message = work.message
        command = work.command
        replyTo = work.replyTo
        context = work.context
        attempt = work.attempt + 1
    }

    /// `message` as a command: a comparison of metatypes (`exactCast`) for the usual case (a command in process,
    /// or decoded from wire bytes), where `as?` went through `swift_dynamicCast` on every request (0.24 % of the
    /// memory store's deposit CPU in perf); any other type is not a command.
    private static func command(_ message: any Sendable) -> AccountCommandRequest? {
        exactCast(message, to: AccountCommandRequest.self)
    }
}

/// Account IDs: 1…128 bytes of ASCII letters, digits, `-` and `_` (valid in stream names and NATS subjects).
enum AccountID {
    static let maxBytes = 128

    static func isValid(_ id: String) -> Bool {
        // Over the contiguous UTF-8 bytes: iterating `String.UTF8View` cost ~500 instructions per deposit.
        var id = id
        return id.withUTF8 { bytes in
            guard !bytes.isEmpty, bytes.count <= maxBytes else { return false }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    continue
                default:
                    return false
                }
            }
            return true
        }
    }

    static func stream(_ id: String) -> StreamName { StreamName(aggregateType: "account", aggregateID: id) }
}

/// Elects who continues a drain after an asynchronous step: the issuer (when the completion ran inside the call)
/// or the completion (when it ran later). Exactly one of the two sees the other's mark.
final class StepLatch: Sendable {
    private let state = Atomic<Bool>(false)

    /// Marks one side done; true when the other side was already done.
    func arrive() -> Bool {
        // Acquiring-and-releasing: the side that continues must see the entity state the other side wrote (the
        // state is also under the entity's mutex; this ordering keeps the election itself sound).
        state.exchange(true, ordering: .acquiringAndReleasing)
    }
}
