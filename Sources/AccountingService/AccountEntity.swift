import AccountingDomain
import ClstrRuntime
import EventSourcing
import Logging
import Synchronization

/// One account in memory: its state rebuilt from the store, a queue of messages run one at a time.
final class AccountEntity: Sendable {
    let id: String
    let stream: StreamName
    unowned let node: AccountNode
    /// The node's shared reply details and snapshot interval (0 without a snapshot store), kept here: every
    /// `unowned` access to the node checks and retains it (~40 instructions each, four per command).
    private let replyDetails: AccountReply.Details
    private let snapshotEvery: UInt64
    /// The node's ``AccountNode/keyedCommandsShareAppends`` (read per batched command, under the lock).
    private let keyedCommandsShareAppends: Bool
    private let state: Mutex<State>

    struct State: Sendable {
        var queue: [AccountWork] = []
        var head = 0
        var running = false
        var passivated = false
        var loaded = false
        var account = Account()
        var version: UInt64 = 0
        /// Idempotency key → the answer of the command that carried it (from the stored events' metadata), for
        /// the most recent keys only (``RecentAnswers``); older ones are found in the store.
        var answers: RecentAnswers
        /// Set when an append showed that a command of the batch was stored before but its key had left the
        /// window: the next load reads the whole stream to find the queued commands' keys.
        var findKeys = false
        var replayed = 0
        var snapshotVersion: UInt64 = 0
        var lastSnapshot: UInt64 = 0

        mutating func next() -> AccountWork? {
            guard head < queue.count else {
                queue.clear()
                head = 0
                return nil
            }
            head += 1
            return queue[head - 1]
        }
    }

    init(id: String, node: AccountNode) {
        self.id = id
        self.stream = AccountID.stream(id)
        self.node = node
        self.replyDetails = node.replyDetails
        self.snapshotEvery = node.snapshots == nil ? 0 : node.snapshotEvery
        self.keyedCommandsShareAppends = node.keyedCommandsShareAppends
        self.state = Mutex(State(answers: RecentAnswers(capacity: node.idempotencyWindow)))
    }

    /// Queues `work`; false when the entity was passivated (the caller looks it up again).
    func submit(_ work: AccountWork) -> Bool {
        // An idle entity takes its first step under the same lock that queued the work (one lock less per
        // message when the account is not busy).
        let next = state.withLock { state -> Next? in
            if state.passivated { return nil }
            state.queue.append(work)
            if state.running { return .idle }
            state.running = true
            return takeNext(&state)
        }
        guard let next else { return false }
        if perform(next) { drain() }
        return true
    }

    /// Runs queued messages until the queue is empty or a step waits for the store.
    private func drain() {
        while step() {}
    }

    /// What a step does.
    private enum Next {
        case load
        case run(AccountWork)
        case commands(SmallList<AccountWork>)
        case idle
    }

    /// One step: load, or run one message. True to continue at once; false when the queue is empty (the entity
    /// is idle) or a completion will continue.
    private func step() -> Bool {
        perform(state.withLock { takeNext(&$0) })
    }

    /// The next step of a running entity, taken from its queue (under the state's lock); `.idle` stops it.
    private func takeNext(_ state: inout State) -> Next {
        if state.head >= state.queue.count {
            state.queue.clear()
            state.head = 0
            state.running = false
            return .idle
        }
        if !state.loaded { return .load }
        guard state.queue[state.head].command != nil else { return .run(state.next()!) }
        // Consecutive commands go together: decided one after the other, appended at once, answered after.
        // Where the store recognises a retried event ID only as an append's first (JetStream without
        // markers), a keyed command starts an append of its own, so that its retry after the idempotency
        // window is recognised (see `AccountNode.keyedCommandsShareAppends`).
        var batch = SmallList<AccountWork>()
        while state.head < state.queue.count && batch.count < Self.maxBatch,
            let request = state.queue[state.head].command
        {
            if !batch.isEmpty, !keyedCommandsShareAppends, !request.idempotencyKey.isEmpty { break }
            batch.append(state.queue[state.head])
            state.head += 1
        }
        return .commands(batch)
    }

    /// Runs a step outside the lock; true to continue at once.
    private func perform(_ next: Next) -> Bool {
        switch next {
        case .idle: return false
        case .load: return issue { done in self.load(done) }
        case .run(let work): return run(work)
        case .commands(let batch): return execute(batch)
        }
    }

    /// Starts an asynchronous operation that calls `done` exactly once; true when it already finished.
    private func issue(_ operation: (@escaping @Sendable () -> Void) -> Void) -> Bool {
        let latch = StepLatch()
        operation {
            if latch.arrive() { self.drain() }
        }
        return latch.arrive()
    }

    private func reply(_ state: State, error: String = "") -> AccountReply {
        AccountReply(
            node: node.nodeID, balance: state.account.balance, version: state.version, error: error,
            replayed: state.replayed, snapshotVersion: state.snapshotVersion)
    }

    // MARK: Loading

    private func load(_ done: @escaping @Sendable () -> Void) {
        let empty = RecentAnswers(capacity: node.idempotencyWindow)
        // The keys to look for in the whole stream (they left the window), or nil for a normal load.
        let wanted = state.withLock { state -> Set<String>? in
            guard state.findKeys else { return nil }
            state.findKeys = false
            var keys = Set<String>()
            for work in state.queue[state.head...] {
                if let request = work.command, !request.idempotencyKey.isEmpty {
                    keys.insert(request.idempotencyKey)
                }
            }
            return keys
        }
        guard let snapshots = node.snapshots, wanted == nil else {
            return readTail(from: Account(), version: 0, answers: empty, snapshotVersion: 0, wanted: wanted, done)
        }
        snapshots.loadSnapshot(stream: stream) { result in
            if case .success(let snapshot?) = result, snapshot.schemaVersion == SnapshotEnvelope.schemaVersion,
                let envelope = try? SnapshotEnvelope(payload: snapshot.payload, capacity: self.node.idempotencyWindow)
            {
                self.readTail(
                    from: envelope.account, version: snapshot.version, answers: envelope.answers,
                    snapshotVersion: snapshot.version, wanted: nil, done)
            } else {
                // No snapshot, another schema or unreadable: replay the whole stream.
                self.readTail(from: Account(), version: 0, answers: empty, snapshotVersion: 0, wanted: nil, done)
            }
        }
    }

    private func readTail(
        from account: Account, version: UInt64, answers: RecentAnswers, snapshotVersion: UInt64,
        wanted: Set<String>?, _ done: @escaping @Sendable () -> Void
    ) {
        node.store.read(stream: stream, from: version + 1, maxCount: Int.max) { result in
            switch result {
            case .success(let records):
                var account = account
                var answers = answers
                var version = version
                var found: [(String, AccountReply)] = []
                do {
                    for record in records {
                        account.evolve(try AccountEvent.decode(record))
                        version = record.version
                        if let key = record.metadata.idempotencyKey {
                            let answer = AccountReply(
                                balance: account.balance, version: version, details: self.replyDetails)
                            answers.insert(key, answer)
                            if let wanted, wanted.contains(key) { found.append((key, answer)) }
                        }
                    }
                    // The keys looked for go in last, as the newest: the commands waiting are answered from them.
                    for (key, answer) in found { answers.insert(key, answer) }
                } catch {
                    self.failQueue(
                        RequestError(AccountingErrorCode.storeCorrupt, "cannot replay \(self.stream): \(error)"))
                    return done()
                }
                let replayed = records.count
                self.state.withLock { state in
                    state.account = account
                    state.version = version
                    state.answers = answers
                    state.replayed = replayed
                    state.snapshotVersion = snapshotVersion
                    state.lastSnapshot = snapshotVersion
                    state.loaded = true
                }
                self.node.logger.debug(
                    "account rebuilt",
                    metadata: [
                        "account": "\(self.id)", "events_replayed": "\(replayed)",
                        "snapshot_version": "\(snapshotVersion)",
                    ])
            case .failure(let error):
                self.failQueue(Self.requestError(error, reading: true))
            }
            done()
        }
    }

    /// Answers every queued message with `error` (the entity could not load); the next message tries again.
    private func failQueue(_ error: RequestError) {
        let works = state.withLock { state -> [AccountWork] in
            var works: [AccountWork] = []
            while let work = state.next() { works.append(work) }
            return works
        }
        for work in works { work.replyTo.deliver(.failure(error), context: work.context) }
    }

    // MARK: Running

    private func run(_ work: AccountWork) -> Bool {
        switch work.message {
        case is AccountCommandRequest:
            return execute(SmallList(work))
        case is GetAccount:
            let answer = state.withLock { state in
                reply(state, error: state.account.isOpen ? "" : AccountError.accountNotFound.code)
            }
            work.replyTo.deliver(.success(answer), context: work.context)
            return true
        case is PassivateAccount:
            let (answer, rest) = state.withLock { state -> (AccountReply, [AccountWork]) in
                state.passivated = true
                var rest: [AccountWork] = []
                while let work = state.next() { rest.append(work) }
                state.running = false
                return (reply(state), rest)
            }
            node.remove(self)
            work.replyTo.deliver(.success(answer), context: work.context)
            for other in rest { node.submit(other, to: id) }
            return false
        case let read as ReadAccountEvents:
            return issue { done in self.readEvents(read, work, done) }
        default:
            work.replyTo.deliver(
                .failure(RequestError(.noHandler, "no handler for \(type(of: work.message))")), context: work.context)
            return true
        }
    }

    /// The most commands decided and appended together.
    static let maxBatch = 256

    /// What one command of a batch answers once the batch's append is done.
    private enum Planned {
        /// Refused, done before (its idempotency key), or changing nothing: this answer, whatever the append does.
        case answer(AccountReply)
        /// Its events are in the append: the state after them, if the append succeeds.
        case appended(AccountReply, key: String)
    }

    /// Runs consecutive commands as one step: each is decided against the state its predecessors left (as if run
    /// one at a time), their events go into one append (atomic: all or none), and every answer goes out after the
    /// append is durable. A hot account then costs one fsync per batch, not per command.
    private func execute(_ batch: SmallList<AccountWork>) -> Bool {
        let (plans, data, account, version) = state.withLock {
            state -> (SmallList<Planned>, [EventData], Account, UInt64) in
            var scratch = state.account
            var version = state.version
            var plans = SmallList<Planned>()
            var data: [EventData] = []
            var keys: [String: AccountReply] = [:]
            for index in 0..<batch.count {
                let request = batch[index].command!
                let key = request.idempotencyKey
                if !key.isEmpty, let first = state.answers[key] {
                    plans.append(
                        .answer(
                            AccountReply(balance: first.balance, version: first.version, details: replyDetails)))
                    continue
                }
                if !key.isEmpty, let first = keys[key] {
                    // The same key earlier in this batch: its answer, and its fate if the append fails.
                    plans.append(.appended(first, key: ""))
                    continue
                }
                let decided: AccountEvent?
                do throws(AccountError) {
                    decided = try scratch.decideEvent(request.command)
                } catch {
                    plans.append(
                        .answer(
                            AccountReply(
                                node: node.nodeID, balance: scratch.balance, version: version, error: error.code,
                                replayed: state.replayed, snapshotVersion: state.snapshotVersion)))
                    continue
                }
                guard let event = decided else {
                    plans.append(
                        .answer(AccountReply(balance: scratch.balance, version: version, details: replyDetails)))
                    continue
                }
                scratch.evolve(event)
                // An unkeyed event's ID only has to be unique: the process counter mixed with random seeds
                // (EventID.next(), an atomic add) instead of two getrandom calls per event (random(): 4.7 % of
                // the memory store's deposit CPU in perf).
                let id = key.isEmpty ? EventID.next() : Self.eventID(stream: stream, key: key, index: 0)
                data.append(event.eventData(id: id, metadata: EventMetadata(idempotencyKey: key.isEmpty ? nil : key)))
                version += 1
                let answer = AccountReply(balance: scratch.balance, version: version, details: replyDetails)
                if !key.isEmpty { keys[key] = answer }
                plans.append(.appended(answer, key: key))
            }
            // `scratch` is the state after every event of the append: the entity's state once it succeeds (the
            // entity runs nothing else until then).
            return (plans, data, consume scratch, state.version)
        }
        guard !data.isEmpty else {
            for index in 0..<batch.count {
                let work = batch[index]
                if case .answer(let answer) = plans[index] {
                    work.replyTo.deliver(.success(answer), context: work.context)
                }
            }
            return true
        }
        let flight = AppendInFlight(
            entity: self, batch: batch, plans: plans, account: account, version: version, events: data.count)
        // The completion captures one object (the append in flight, which is also the step's latch, as in
        // `issue`): its context is that object, one allocation per append instead of a latch, the latch's closure
        // and the completion's context.
        node.store.append(to: stream, expected: .exact(version), events: data) { result in
            // One turn for the batch's answers: on a thread without a loop of its own (a store's acknowledgement
            // or writer thread) the NATS transport then sends them as one reply message per requesting loop,
            // not one each (over JetStream: 1.1 NATS messages per deposit before, ~0.1 after).
            TurnBoundary.run { flight.entity.appended(result, flight) }
            if flight.arrive() { flight.entity.drain() }
        }
        return flight.arrive()
    }

    /// Puts `batch` back at the head of the queue for another decision after a reload.
    private func retry(_ batch: SmallList<AccountWork>, findKeys: Bool) {
        let retries = (0..<batch.count).map { AccountWork(retrying: batch[$0]) }
        state.withLock { state in
            state.loaded = false
            if findKeys { state.findKeys = true }
            state.queue.insert(contentsOf: retries, at: state.head)
        }
    }

    private func appended(_ result: Result<AppendResult, EventStoreError>, _ flight: AppendInFlight) {
        let batch = flight.batch
        let plans = flight.plans
        switch result {
        case .success(let appended)
        where appended.lastVersion != flight.version + UInt64(flight.events) && batch.allSatisfy { $0.attempt < 3 }:
            // The store answered an idempotent replay: these events were stored by an earlier append (a retry
            // whose key left the window, see RecentAnswers). Nothing was stored now; look the keys up in the
            // stream and decide the batch again.
            retry(batch, findKeys: true)
        case .success(let appended):
            let snapshot = state.withLock { state -> Snapshot? in
                state.account = flight.account
                state.version = appended.lastVersion
                for index in 0..<plans.count {
                    if case .appended(let answer, let key) = plans[index], !key.isEmpty {
                        state.answers.insert(key, answer)
                    }
                }
                let every = snapshotEvery
                guard every > 0, state.version / every > state.lastSnapshot / every else {
                    return nil
                }
                state.lastSnapshot = state.version
                return Snapshot(
                    stream: stream, version: state.version, position: appended.lastPosition,
                    schemaVersion: SnapshotEnvelope.schemaVersion,
                    payload: SnapshotEnvelope(account: state.account, answers: state.answers).payload)
            }
            for index in 0..<batch.count {
                let work = batch[index]
                switch plans[index] {
                case .answer(let answer), .appended(let answer, _):
                    work.replyTo.deliver(.success(answer), context: work.context)
                }
            }
            if let snapshot, let snapshots = node.snapshots {
                // Best effort: a lost snapshot costs a longer replay, nothing else.
                snapshots.saveSnapshot(snapshot) { _ in }
            }
        case .failure(let error)
        where (error.code == .conflict || error.code == .duplicateEventID) && batch.allSatisfy { $0.attempt < 3 }:
            // Another writer appended (a second process on the stream), or a command of the batch was stored by
            // an append whose outcome was unknown, or by a command whose key left the window: reload (looking the
            // batch's keys up in the whole stream) and decide the whole batch again.
            retry(batch, findKeys: error.code == .duplicateEventID)
        case .failure(let error):
            // Whether an append with an unknown outcome was stored is learnt by reloading before the next command.
            state.withLock { $0.loaded = false }
            let failure = Self.requestError(error, reading: false)
            for index in 0..<batch.count {
                let work = batch[index]
                switch plans[index] {
                case .answer(let answer): work.replyTo.deliver(.success(answer), context: work.context)
                case .appended: work.replyTo.deliver(.failure(failure), context: work.context)
                }
            }
        }
    }

    /// An append in flight: what its completion needs to answer the batch, and the latch that elects who
    /// continues the drain (see ``issue(_:)``).
    private final class AppendInFlight: Sendable {
        let entity: AccountEntity
        let batch: SmallList<AccountWork>
        let plans: SmallList<Planned>
        /// The account after the append's events.
        let account: Account
        /// The stream's version the append expects.
        let version: UInt64
        /// The number of events appended.
        let events: Int
        private let arrived = Atomic<Bool>(false)

        init(
            entity: AccountEntity, batch: SmallList<AccountWork>, plans: SmallList<Planned>, account: Account,
            version: UInt64, events: Int
        ) {
            self.entity = entity
            self.batch = batch
            self.plans = plans
            self.account = account
            self.version = version
            self.events = events
        }

        /// Marks one side done (the issuer or the completion); true when the other side was already done.
        func arrive() -> Bool {
            // Acquiring-and-releasing, as StepLatch: the side that continues must see what the other side wrote.
            arrived.exchange(true, ordering: .acquiringAndReleasing)
        }
    }

    private func readEvents(_ read: ReadAccountEvents, _ work: AccountWork, _ done: @escaping @Sendable () -> Void) {
        node.store.read(stream: stream, from: max(1, read.from), maxCount: max(1, read.limit)) { result in
            switch result {
            case .success(let records):
                work.replyTo.deliver(.success(EventJSON.document(id: self.id, records: records)), context: work.context)
            case .failure(let error):
                work.replyTo.deliver(.failure(Self.requestError(error, reading: true)), context: work.context)
            }
            done()
        }
    }

    /// What a store error means for the requester: 503 when nothing was stored, 504 when it is unknown.
    static func requestError(_ error: EventStoreError, reading: Bool) -> RequestError {
        switch error.code {
        case .outcomeUnknown, .timeout:
            return RequestError(
                reading ? AccountingErrorCode.storeUnavailable : RequestError.Code.outcomeUnknown, error.description)
        case .codec:
            return RequestError(AccountingErrorCode.storeCorrupt, error.description)
        default:
            return RequestError(AccountingErrorCode.storeUnavailable, error.description)
        }
    }

    /// The event ID of the `index`th event of the command with idempotency key `key`: derived, so that a retried
    /// append is recognised by the store itself (its idempotent append) as well as by the entity.
    static func eventID(stream: StreamName, key: String, index: Int) -> EventID {
        var high: UInt64 = 0xcbf2_9ce4_8422_2325
        var low: UInt64 = 0x8422_2325_cbf2_9ce4
        func mix(_ byte: UInt8) {
            high = (high ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            low = (low ^ UInt64(byte)) &* 0x9E37_79B9_7F4A_7C15
            low ^= low >> 29
        }
        for byte in stream.description.utf8 { mix(byte) }
        mix(0)
        for byte in key.utf8 { mix(byte) }
        mix(0)
        mix(UInt8(truncatingIfNeeded: index))
        return EventID(high: high, low: low)
    }
}

/// The snapshot of an account entity: the aggregate's state plus the remembered idempotency answers (the window's
/// keys, oldest first; older keys are found in the stream when a retry needs them).
struct SnapshotEnvelope {
    static let schemaVersion: UInt32 = 1
    var account: Account
    var answers: RecentAnswers

    init(account: Account, answers: RecentAnswers) {
        self.account = account
        self.answers = answers
    }

    var payload: [UInt8] {
        var writer = WireWriter()
        writer.write(bytes: account.snapshotPayload())
        let entries = answers.oldestFirst
        writer.writeVarint(UInt64(entries.count))
        for (key, answer) in entries {
            writer.write(key)
            writer.write(answer.balance)
            writer.writeVarint(answer.version)
        }
        return writer.bytes
    }

    /// Reads a snapshot into a window of `capacity` keys (a snapshot written with a larger window keeps its newest).
    init(payload: [UInt8], capacity: Int) throws {
        var reader = WireReader(payload)
        account = try Account(snapshotPayload: try reader.readBytes())
        answers = RecentAnswers(capacity: capacity)
        let count = try reader.readVarint()
        for _ in 0..<min(count, UInt64(payload.count)) {
            let key = try reader.readString()
            answers.insert(
                key, AccountReply(node: "", balance: try reader.readInt64(), version: try reader.readVarint()))
        }
    }
}

/// Elements in order, the first one inline: a batch of one command (every batch when the store completes inside the
/// call, as the memory store does) allocates no array for its commands or their plans.
struct SmallList<Element> {
    private var first: Element?
    private var rest: [Element] = []

    init() {}

    init(_ element: Element) { first = element }

    var count: Int { first == nil ? 0 : 1 + rest.count }
    var isEmpty: Bool { first == nil }

    subscript(index: Int) -> Element { index == 0 ? first! : rest[index - 1] }

    mutating func append(_ element: Element) {
        if first == nil {
            first = element
        } else {
            rest.append(element)
        }
    }

    /// Whether every element satisfies `predicate`.
    func allSatisfy(_ predicate: (Element) -> Bool) -> Bool {
        guard let first else { return true }
        return predicate(first) && rest.allSatisfy(predicate)
    }
}

extension SmallList: Sendable where Element: Sendable {}

extension Array {
    /// Removes every element, keeping the capacity: one `removeLast` each (the queue of an entity usually holds
    /// one message), where `removeAll(keepingCapacity:)` went through the generic `replaceSubrange` (~160
    /// instructions per deposit under callgrind).
    mutating func clear() {
        while !isEmpty { removeLast() }
    }
}
