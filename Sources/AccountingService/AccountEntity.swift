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
    private let state = Mutex(State())

    struct State: Sendable {
        var queue: [AccountWork] = []
        var head = 0
        var running = false
        var passivated = false
        var loaded = false
        var account = Account()
        var version: UInt64 = 0
        /// Idempotency key → the answer of the command that carried it (from the stored events' metadata).
        var answers: [String: AccountReply] = [:]
        var replayed = 0
        var snapshotVersion: UInt64 = 0
        var lastSnapshot: UInt64 = 0

        mutating func next() -> AccountWork? {
            guard head < queue.count else {
                queue.removeAll(keepingCapacity: true)
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
    }

    /// Queues `work`; false when the entity was passivated (the caller looks it up again).
    func submit(_ work: AccountWork) -> Bool {
        let start = state.withLock { state -> Bool? in
            if state.passivated { return nil }
            state.queue.append(work)
            if state.running { return false }
            state.running = true
            return true
        }
        guard let start else { return false }
        if start { drain() }
        return true
    }

    /// Runs queued messages until the queue is empty or a step waits for the store.
    private func drain() {
        while step() {}
    }

    /// One step: load, or run one message. True to continue at once; false when the queue is empty (the entity
    /// is idle) or a completion will continue.
    private func step() -> Bool {
        enum Next {
            case load
            case run(AccountWork)
            case idle
        }
        let next = state.withLock { state -> Next in
            if state.head >= state.queue.count {
                state.queue.removeAll(keepingCapacity: true)
                state.head = 0
                state.running = false
                return .idle
            }
            if !state.loaded { return .load }
            return .run(state.next()!)
        }
        switch next {
        case .idle: return false
        case .load: return issue { done in self.load(done) }
        case .run(let work): return run(work)
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
        guard let snapshots = node.snapshots else {
            return readTail(from: Account(), version: 0, answers: [:], snapshotVersion: 0, done)
        }
        snapshots.loadSnapshot(stream: stream) { result in
            if case .success(let snapshot?) = result, snapshot.schemaVersion == SnapshotEnvelope.schemaVersion,
                let envelope = try? SnapshotEnvelope(payload: snapshot.payload)
            {
                self.readTail(
                    from: envelope.account, version: snapshot.version, answers: envelope.answers,
                    snapshotVersion: snapshot.version, done)
            } else {
                // No snapshot, another schema or unreadable: replay the whole stream.
                self.readTail(from: Account(), version: 0, answers: [:], snapshotVersion: 0, done)
            }
        }
    }

    private func readTail(
        from account: Account, version: UInt64, answers: [String: AccountReply], snapshotVersion: UInt64,
        _ done: @escaping @Sendable () -> Void
    ) {
        node.store.read(stream: stream, from: version + 1, maxCount: Int.max) { result in
            switch result {
            case .success(let records):
                var account = account
                var answers = answers
                var version = version
                do {
                    for record in records {
                        account.evolve(try AccountEvent.codec.decode(record))
                        version = record.version
                        if let key = record.metadata.idempotencyKey {
                            answers[key] = AccountReply(
                                node: self.node.nodeID, balance: account.balance, version: version)
                        }
                    }
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
        case let request as AccountCommandRequest:
            return execute(request, work)
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

    private func execute(_ request: AccountCommandRequest, _ work: AccountWork) -> Bool {
        enum Decision {
            case answer(AccountReply)
            case append([AccountEvent], UInt64)
        }
        let decision = state.withLock { state -> Decision in
            if !request.idempotencyKey.isEmpty, let first = state.answers[request.idempotencyKey] {
                return .answer(AccountReply(node: node.nodeID, balance: first.balance, version: first.version))
            }
            do throws(AccountError) {
                let events = try state.account.decide(request.command)
                if events.isEmpty { return .answer(reply(state)) }
                return .append(events, state.version)
            } catch {
                return .answer(reply(state, error: error.code))
            }
        }
        switch decision {
        case .answer(let answer):
            work.replyTo.deliver(.success(answer), context: work.context)
            return true
        case .append(let events, let version):
            let key = request.idempotencyKey
            let metadata = EventMetadata(idempotencyKey: key.isEmpty ? nil : key)
            var data: [EventData] = []
            do {
                for (index, event) in events.enumerated() {
                    let id = key.isEmpty ? EventID.random() : Self.eventID(stream: stream, key: key, index: index)
                    data.append(try AccountEvent.codec.encode(event, id: id, metadata: metadata))
                }
            } catch {
                work.replyTo.deliver(
                    .failure(RequestError(AccountingErrorCode.storeCorrupt, "cannot encode: \(error)")),
                    context: work.context)
                return true
            }
            return issue { done in
                self.node.store.append(to: self.stream, expected: .exact(version), events: data) { result in
                    self.appended(result, events: events, key: key, work: work)
                    done()
                }
            }
        }
    }

    private func appended(
        _ result: Result<AppendResult, EventStoreError>, events: [AccountEvent], key: String, work: AccountWork
    ) {
        switch result {
        case .success(let appended):
            let (answer, snapshot) = state.withLock { state -> (AccountReply, Snapshot?) in
                for event in events { state.account.evolve(event) }
                state.version = appended.lastVersion
                let answer = AccountReply(node: node.nodeID, balance: state.account.balance, version: state.version)
                if !key.isEmpty { state.answers[key] = answer }
                var snapshot: Snapshot?
                let every = node.snapshotEvery
                if every > 0, node.snapshots != nil, state.version / every > state.lastSnapshot / every {
                    state.lastSnapshot = state.version
                    snapshot = Snapshot(
                        stream: stream, version: state.version, position: appended.lastPosition,
                        schemaVersion: SnapshotEnvelope.schemaVersion,
                        payload: SnapshotEnvelope(account: state.account, answers: state.answers).payload)
                }
                return (answer, snapshot)
            }
            work.replyTo.deliver(.success(answer), context: work.context)
            if let snapshot, let snapshots = node.snapshots {
                // Best effort: a lost snapshot costs a longer replay, nothing else.
                snapshots.saveSnapshot(snapshot) { _ in }
            }
        case .failure(let error) where error.code == .conflict && work.attempt < 3:
            // Another writer appended (a second process on the same stream): reload and decide again.
            var retry = work
            retry.attempt += 1
            state.withLock { state in
                state.loaded = false
                state.queue.insert(retry, at: state.head)
            }
        case .failure(let error):
            if error.code == .outcomeUnknown || error.code == .timeout || error.code == .conflict {
                // Whether it was stored is unknown: reload before the next command.
                state.withLock { $0.loaded = false }
            }
            work.replyTo.deliver(.failure(Self.requestError(error, reading: false)), context: work.context)
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
                reading ? AccountingErrorCode.storeUnavailable : AccountingErrorCode.outcomeUnknown, error.description)
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

/// The snapshot of an account entity: the aggregate's state plus the remembered idempotency answers (which would
/// otherwise be lost with the events the snapshot lets a load skip).
struct SnapshotEnvelope {
    static let schemaVersion: UInt32 = 1
    var account: Account
    var answers: [String: AccountReply]

    init(account: Account, answers: [String: AccountReply]) {
        self.account = account
        self.answers = answers
    }

    var payload: [UInt8] {
        var writer = WireWriter()
        writer.write(bytes: account.snapshotPayload())
        writer.writeVarint(UInt64(answers.count))
        for (key, answer) in answers.sorted(by: { $0.key < $1.key }) {
            writer.write(key)
            writer.write(answer.balance)
            writer.writeVarint(answer.version)
        }
        return writer.bytes
    }

    init(payload: [UInt8]) throws {
        var reader = WireReader(payload)
        account = try Account(snapshotPayload: try reader.readBytes())
        answers = [:]
        let count = try reader.readVarint()
        for _ in 0..<min(count, UInt64(payload.count)) {
            let key = try reader.readString()
            answers[key] = AccountReply(node: "", balance: try reader.readInt64(), version: try reader.readVarint())
        }
    }
}
