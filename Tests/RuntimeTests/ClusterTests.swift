import Synchronization
import TestKit
import Testing

@testable import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

// MARK: Messages of a small bank account, as the accounting sample has.

struct Deposit: ClusterMessage {
    typealias Reply = Int
    static var messageType: String { "test.deposit" }
    var amount: Int
    init(amount: Int) { self.amount = amount }
    func encode(to writer: inout WireWriter) { writer.write(amount) }
    init(from reader: inout WireReader) throws(RequestError) { amount = try reader.readInt() }
}

struct Withdraw: ClusterMessage {
    typealias Reply = Int
    static var messageType: String { "test.withdraw" }
    var amount: Int
    init(amount: Int) { self.amount = amount }
    func encode(to writer: inout WireWriter) { writer.write(amount) }
    init(from reader: inout WireReader) throws(RequestError) { amount = try reader.readInt() }
}

struct Balance: ClusterMessage {
    typealias Reply = Int
    static var messageType: String { "test.balance" }
    init() {}
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) {}
}

/// Answers the ID of the node whose actor handled it.
struct WhereAmI: ClusterMessage {
    typealias Reply = String
    static var messageType: String { "test.where-am-i" }
    init() {}
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) {}
}

/// Blocks the actor until the gate opens (in-process only).
struct Stall: ClusterMessage {
    typealias Reply = Empty
    static var messageType: String { "test.stall" }
    let gate: Gate
    init(gate: Gate) { self.gate = gate }
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) { throw RequestError(.codec, "in-process only") }
}

/// Makes the actor throw a plain Swift error (not a coded one).
struct Explode: ClusterMessage {
    typealias Reply = Empty
    static var messageType: String { "test.explode" }
    init() {}
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) {}
}

enum Boom: Error { case kaboom }

/// A message no actor handles.
struct Unknown: ClusterMessage {
    typealias Reply = Empty
    static var messageType: String { "test.unknown" }
    init() {}
    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) {}
}

struct InsufficientBalance: CodedError {
    var balance: Int
    var amount: Int
    var code: String { "insufficient_balance" }
    var message: String { "balance \(balance) < \(amount)" }
}

struct Account: Sendable {
    var node: String
    var balance = 0
}

func accountBehavior() -> ActorBehavior<Account> {
    var behavior = ActorBehavior<Account>()
    behavior.on(Deposit.self) { account, message in
        account.balance += message.amount
        return account.balance
    }
    behavior.on(Withdraw.self) { account, message in
        guard account.balance >= message.amount else {
            throw InsufficientBalance(balance: account.balance, amount: message.amount)
        }
        account.balance -= message.amount
        return account.balance
    }
    behavior.on(Balance.self) { account, _ in account.balance }
    behavior.on(WhereAmI.self) { account, _ in account.node }
    behavior.on(Explode.self) { _, _ in throw Boom.kaboom }
    behavior.on(Stall.self) { _, message in
        message.gate.wait()
        return Empty()
    }
    return behavior
}

/// N nodes (`node-0…`) on one in-memory transport, each with a per-key actor handler, and a client.
final class TestCluster: Sendable {
    let transport: InMemoryTransport
    let shardMap: ShardMap
    let nodes: [ClusterNode]
    let handlers: [KeyedActorHandler<Account>]
    let client: ClusterClient
    let spawns: SpawnCounter

    init(nodes count: Int, shards: Int = 64, seed: String = "demo-cluster", executor: any ActorExecutor) throws {
        var options = InMemoryTransportOptions()
        options.deadlineSweepInterval = .milliseconds(2)
        let transport = InMemoryTransport(options: options)
        let shardMap = ShardMap(nodeIDs: (0..<count).map { "node-\($0)" }, numShards: shards, seed: seed)
        let spawns = SpawnCounter()
        let handlers = shardMap.nodeIDs.map { nodeID in
            let registry = ActorRegistry<String, Account>(executor: executor) { key in
                spawns.spawned.withLock { $0[key, default: 0] += 1 }
                return (Account(node: nodeID), accountBehavior())
            }
            let handler = KeyedActorHandler(registry: registry)
            handler.register(Deposit.self)
            handler.register(Withdraw.self)
            handler.register(Balance.self)
            return handler
        }
        self.transport = transport
        self.shardMap = shardMap
        self.spawns = spawns
        self.handlers = handlers
        self.nodes = zip(shardMap.nodeIDs, handlers).map { nodeID, handler in
            ClusterNode(nodeID: nodeID, shardMap: shardMap, transport: transport, handler: handler)
        }
        self.client = ClusterClient(transport: transport, shardMap: shardMap)
        for node in nodes { try node.start() }
    }

    func node(_ id: String) -> ClusterNode { nodes.first { $0.nodeID == id }! }

    func shutdown() {
        for node in nodes { node.stop() }
        transport.close()
        for handler in handlers { handler.registry.shutdown() }
    }
}

/// The error an async call threw, or nil.
func requestError<T>(_ body: () async throws -> T) async -> RequestError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error as? RequestError ?? RequestError(.handlerFailed, "not a RequestError: \(error)")
    }
}

@Suite("Cluster")
struct ClusterTests {
    @Test("requests reach the owner's actor through the in-memory transport (3 nodes, demo-cluster)")
    func routing() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let cluster = try TestCluster(nodes: 3, executor: pool)
        defer { cluster.shutdown() }
        #expect(try await cluster.client.request(WhereAmI(), key: "alice") == "node-1")
        #expect(try await cluster.client.request(WhereAmI(), key: "bob") == "node-2")
        #expect(try await cluster.client.request(WhereAmI(), key: "charlie") == "node-0")
        var served: Set<String> = []
        for index in 0..<60 {
            let key = "user-\(index)"
            let node = try await cluster.client.request(WhereAmI(), key: key)
            #expect(node == cluster.shardMap.owner(forKey: key), "\(key)")
            served.insert(node)
        }
        #expect(served.count == 3)
        for amount in 1...10 { _ = try await cluster.client.request(Deposit(amount: amount), key: "alice") }
        #expect(try await cluster.client.request(Balance(), key: "alice") == 55)
        // The actor lives on alice's node only.
        #expect(cluster.handlers[1].registry.count >= 1)
        #expect(cluster.spawns.count("alice") == 1)
    }

    @Test("the callback form on one thread with the inline executor answers before it returns")
    func inlineCallback() throws {
        let cluster = try TestCluster(nodes: 7, seed: "counter-cluster", executor: InlineExecutor())
        defer { cluster.shutdown() }
        let log = OutcomeLog()
        for index in 0..<100 {
            cluster.client.request(
                Deposit(amount: 2), key: "counter-\(index % 10)", replyTo: log, context: UInt64(index))
            #expect(log.count == index + 1)
        }
        #expect(log.value(at: 99, as: Int.self) == 20)
        #expect(log.entries.withLock { $0.map(\.context) } == (0..<100).map(UInt64.init))
        #expect(cluster.node("node-0").shards.count == 10)
        #expect(cluster.node("node-1").shards.count == 14)
    }

    @Test("node-info: answered by the node itself (ID and shards), before the user handler")
    func nodeInfo() async throws {
        let cluster = try TestCluster(nodes: 3, executor: InlineExecutor())
        defer { cluster.shutdown() }
        for node in cluster.nodes {
            let info = try await cluster.client.nodeInfo(shard: try #require(node.shards.first))
            #expect(info == NodeInfo(nodeID: node.nodeID, shards: node.shards))
        }
        #expect(cluster.nodes.map { $0.shards.count }.sorted() == [20, 20, 24])
        #expect(cluster.handlers.allSatisfy { $0.registry.count == 0 })
        // It survives encoding (as it would over NATS).
        var writer = WireWriter()
        NodeInfo(nodeID: "node-2", shards: [0, 5, 63]).encode(to: &writer)
        #expect(
            try WireBytes(writer.bytes).decode(as: NodeInfo.self) == NodeInfo(nodeID: "node-2", shards: [0, 5, 63]))
        #expect(await requestError { try await cluster.client.nodeInfo(shard: 64) }?.code == .badRequest)
    }

    @Test("no node serves the shard → noResponder at once; serving again after restart")
    func noResponder() async throws {
        let cluster = try TestCluster(nodes: 3, executor: InlineExecutor())
        defer { cluster.shutdown() }
        _ = try await cluster.client.request(Deposit(amount: 3), key: "alice")
        cluster.node("node-1").stop()
        cluster.node("node-1").stop()  // idempotent
        let start = MonotonicClock.now()
        let error = await requestError { try await cluster.client.request(Balance(), key: "alice") }
        #expect(error?.code == .noResponder)
        #expect(MonotonicClock.now() - start < 1_000_000_000)
        #expect(try await cluster.client.request(Balance(), key: "bob") == 0)
        try cluster.node("node-1").start()
        #expect(try await cluster.client.request(Balance(), key: "alice") == 3)
    }

    @Test("deadline: a request stuck behind a busy actor ends with deadlineExceeded within its timeout")
    func deadline() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let cluster = try TestCluster(nodes: 3, executor: pool)
        defer { cluster.shutdown() }
        let gate = Gate()
        let stalled = OutcomeLog()
        cluster.client.request(Stall(gate: gate), key: "alice", replyTo: stalled, context: 0, timeout: .seconds(10))
        let log = OutcomeLog()
        let start = MonotonicClock.now()
        cluster.client.request(Balance(), key: "alice", replyTo: log, context: 1, timeout: .milliseconds(100))
        #expect(await log.arrived(1, seconds: 5))
        // Measured to the delivery itself, not to when this task got to run again.
        let elapsed = Double(try #require(log.entries.withLock { $0.first?.at }) - start) / 1e6
        gate.release()
        #expect(log.error(at: 0)?.code == .deadlineExceeded)
        #expect(elapsed >= 100 && elapsed < 2_000, "answered after \(elapsed) ms")
        #expect(await stalled.arrived(1))
        #expect(stalled.value(at: 0, as: Empty.self) == Empty())
        // The async form too (its own timer and the transport's sweep race; either gives deadlineExceeded).
        let gate2 = Gate()
        cluster.client.request(Stall(gate: gate2), key: "alice", replyTo: stalled, context: 2, timeout: .seconds(10))
        let error = await requestError {
            try await cluster.client.request(Balance(), key: "alice", timeout: .milliseconds(50))
        }
        gate2.release()
        #expect(error?.code == .deadlineExceeded)
        #expect(await stalled.arrived(2))
    }

    @Test("remote errors keep their code and message; a plain thrown error becomes handlerFailed")
    func remoteErrors() async throws {
        let cluster = try TestCluster(nodes: 3, executor: InlineExecutor())
        defer { cluster.shutdown() }
        _ = try await cluster.client.request(Deposit(amount: 5), key: "bob")
        let error = try #require(
            await requestError { try await cluster.client.request(Withdraw(amount: 10), key: "bob") })
        #expect(error.code == RequestError.Code(rawValue: "insufficient_balance"))
        #expect(error.message == "balance 5 < 10")
        #expect(try await cluster.client.request(Withdraw(amount: 5), key: "bob") == 0)
        // notify reports the error too.
        let notifyError = await requestError { try await cluster.client.notify(Withdraw(amount: 1), key: "bob") }
        #expect(notifyError?.code.rawValue == "insufficient_balance")
        try await cluster.client.notify(Deposit(amount: 4), key: "bob")
        #expect(try await cluster.client.request(Balance(), key: "bob") == 4)
        let plain = await requestError { try await cluster.client.request(Explode(), key: "bob") }
        #expect(plain?.code == .handlerFailed)
        #expect(plain?.message == "kaboom")
        // A message the actor has no handler for.
        #expect(await requestError { try await cluster.client.request(Unknown(), key: "bob") }?.code == .noHandler)
    }

    @Test("envelope rules: reserved header, shard range, missing key → badRequest; no handler runs")
    func envelopeRules() async throws {
        let cluster = try TestCluster(nodes: 3, executor: InlineExecutor())
        defer { cluster.shutdown() }
        let log = OutcomeLog()
        cluster.client.request(
            Deposit(amount: 1), key: "alice", replyTo: log, context: 0, headers: ["X-CLSTR-key": "alice"])
        cluster.client.request(Deposit(amount: 1), shard: 64, replyTo: log, context: 1)
        cluster.client.request(Deposit(amount: 1), shard: -1, replyTo: log, context: 2)
        cluster.client.request(Deposit(amount: 1), shard: 0, replyTo: log, context: 3)  // shard-level: no key
        cluster.client.request(Deposit(amount: 1), key: "alice", replyTo: log, context: 4, headers: ["x-trace": "t1"])
        #expect(log.count == 5)
        for index in 0..<4 { #expect(log.error(at: index)?.code == .badRequest, "request \(index)") }
        #expect(log.value(at: 4, as: Int.self) == 1)
        #expect(cluster.spawns.count("alice") == 1)
        // The node checks too (a request from elsewhere may not have gone through a client).
        let shard = cluster.shardMap.shard(forKey: "alice")
        var request = ClusterRequest(
            shard: shard, key: "alice", messageType: Deposit.messageType, payload: .value(Deposit(amount: 1)),
            deadline: MonotonicClock.deadline(after: .seconds(5)), headers: ["x-Clstr-Reply": "x"])
        cluster.transport.request(request, replyTo: log, context: 5)
        #expect(log.error(at: 5)?.code == .badRequest)
        request.headers = [:]
        cluster.transport.request(request, replyTo: log, context: 6)
        #expect(log.value(at: 6, as: Int.self) == 2)
        #expect(ClusterRequest.isReservedHeader("x-clstr-"))
        #expect(ClusterRequest.isReservedHeader("X-Clstr-Anything"))
        #expect(!ClusterRequest.isReservedHeader("x-clstr"))
        #expect(!ClusterRequest.isReservedHeader("x-cluster-key"))
        #expect(!ClusterRequest.isReservedHeader(""))
    }

    @Test("encoded payloads are decoded by the registered types; unknown or malformed ones fail, never hang")
    func encodedPayloads() throws {
        let cluster = try TestCluster(nodes: 3, executor: InlineExecutor())
        defer { cluster.shutdown() }
        let shard = cluster.shardMap.shard(forKey: "carol")
        func send(_ type: String, _ bytes: [UInt8], context: UInt64, log: OutcomeLog) {
            cluster.transport.request(
                ClusterRequest(
                    shard: shard, key: "carol", messageType: type, payload: .bytes(bytes),
                    deadline: MonotonicClock.deadline(after: .seconds(5))),
                replyTo: log, context: context)
        }
        let log = OutcomeLog()
        var writer = WireWriter()
        Deposit(amount: 42).encode(to: &writer)
        send(Deposit.messageType, writer.bytes, context: 0, log: log)
        send(WhereAmI.messageType, [], context: 1, log: log)  // a real type, but not registered
        send(Deposit.messageType, [0x80], context: 2, log: log)  // truncated varint
        send(Balance.messageType, [], context: 3, log: log)
        #expect(log.count == 4)
        #expect(log.value(at: 0, as: Int.self) == 42)
        #expect(log.error(at: 1)?.code == .noHandler)
        #expect(log.error(at: 2)?.code == .codec)
        // The reply decodes from the typed value as a caller would.
        #expect(try log.entries.withLock { $0[3].outcome }.decode(as: Int.self).get() == 42)
        let handler = cluster.handlers[cluster.shardMap.ownerIndex(ofShard: shard)]
        #expect(handler.registeredMessageTypes == [Balance.messageType, Deposit.messageType, Withdraw.messageType])
    }

    @Test("exactly one actor per key when first requests race through the node")
    func racingFirstRequests() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let cluster = try TestCluster(nodes: 3, executor: pool)
        defer { cluster.shutdown() }
        let threads = 4
        let rounds = 200
        let log = OutcomeLog()
        let barrier = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let workers = (0..<threads).map { thread in
            TestThread {
                defer { finished.wrappingAdd(1, ordering: .releasing) }
                for round in 0..<rounds {
                    // All threads meet before each round, then race for the round's fresh key.
                    barrier.wrappingAdd(1, ordering: .sequentiallyConsistent)
                    while barrier.load(ordering: .sequentiallyConsistent) < (round + 1) * threads { sched_yield() }
                    cluster.client.request(
                        Deposit(amount: 1), key: "race-\(round)", replyTo: log,
                        context: UInt64(round * threads + thread))
                }
            }
        }
        #expect(await eventually(seconds: 30) { finished.load(ordering: .acquiring) == threads })
        for worker in workers { await worker.joined() }
        #expect(await log.arrived(threads * rounds))
        #expect(log.entries.withLock { $0.allSatisfy { if case .success = $0.outcome { true } else { false } } })
        for round in 0..<rounds {
            #expect(cluster.spawns.count("race-\(round)") == 1, "race-\(round)")
        }
        #expect(cluster.handlers.reduce(0) { $0 + $1.registry.count } == rounds)
        let balances = OutcomeLog()
        for round in 0..<rounds {
            cluster.client.request(Balance(), key: "race-\(round)", replyTo: balances, context: UInt64(round))
        }
        #expect(await balances.arrived(rounds))
        #expect(balances.entries.withLock { $0.allSatisfy { (try? $0.outcome.decode(as: Int.self).get()) == threads } })
    }

    @Test("a closed transport fails requests with transportClosed; a node not in the map cannot start")
    func closedAndMisconfigured() async throws {
        let cluster = try TestCluster(nodes: 3, executor: InlineExecutor())
        defer { cluster.shutdown() }
        let stranger = ClusterNode(
            nodeID: "node-9", shardMap: cluster.shardMap, transport: cluster.transport, handler: cluster.handlers[0])
        #expect(throws: RequestError.self) { try stranger.start() }
        // Starting twice is harmless; a second node claiming the same shards is refused.
        try cluster.nodes[0].start()
        let twin = ClusterNode(
            nodeID: "node-0", shardMap: cluster.shardMap, transport: cluster.transport, handler: cluster.handlers[0])
        #expect(throws: RequestError.self) { try twin.start() }
        cluster.transport.close()
        #expect(
            await requestError { try await cluster.client.request(Balance(), key: "alice") }?.code == .transportClosed)
    }
}
