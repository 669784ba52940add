import AccountingDomain
import ClstrRuntime
import Foundation
import Logging
import ServiceKit

/// The spec's accounting demo: three nodes, accounts opened, money moved, balances read; then every account's
/// entity is dropped and read again, rebuilt from the store (logged with the events replayed and the snapshot it
/// started from).
struct AccountingDemo {
    let cluster: ClusterOptions<AccountingDefaults>
    let transport: TransportOptions<AccountingDefaults>
    let store: StoreKind
    let dataDir: String?
    let logLevel: String

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        let logger = ServiceRunner.bootstrapLogging(label: "accounting", level: level)
        var steps: [ShutdownStep] = []
        do {
            try await demo(logger: logger, steps: &steps)
        } catch {
            for step in steps.reversed() { await step.teardown() }
            logger.error("demo failed", metadata: ["error": "\(error)"])
            throw error
        }
        for step in steps.reversed() { await step.teardown() }
    }

    private func demo(logger: Logger, steps: inout [ShutdownStep]) async throws {
        let shardMap = ShardMap(nodeIDs: cluster.resolvedNodeIDs, numShards: cluster.shards, seed: cluster.seed)
        let kind = transport.resolved(natsByDefault: false)
        var natsURLs = StoreOptions.natsURLs(transport)
        if store == .jetstream && transport.natsServer == "auto" {
            natsURLs = [try ServiceRunner.startNATSServer(logger: logger, jetStream: true, steps: &steps).url]
        }
        let clusterTransport = try ServiceRunner.connectTransport(
            kind, options: transport, natsURLs: natsURLs, clientName: "accounting-demo", shardMap: shardMap,
            logger: logger, steps: &steps)

        var storage = try StoreOptions.parse([])
        storage.store = store
        var temporary: String?
        if let dataDir {
            storage.dataDir = dataDir
        } else if store == .sqlite {
            let directory = NSTemporaryDirectory() + "accounting-demo-\(UUID().uuidString)"
            storage.dataDir = directory
            temporary = directory
        }
        let temporaryDirectory = temporary
        let opened = try storage.open(
            directory: storage.dataDir, natsURLs: natsURLs ?? ["nats://127.0.0.1:4222"], logger: logger)
        logger.info("event store opened", metadata: ["store": "\(store.rawValue)", "path": "\(opened.description)"])
        steps.append(
            ShutdownStep(name: "store") {
                opened.close()
                if let temporaryDirectory { try? FileManager.default.removeItem(atPath: temporaryDirectory) }
            })

        var nodes: [ClusterNode] = []
        for nodeID in shardMap.nodeIDs {
            let accounts = AccountNode(
                nodeID: nodeID, store: opened.events, snapshots: opened.snapshots, snapshotEvery: 0, logger: logger)
            let node = ClusterNode(nodeID: nodeID, shardMap: shardMap, transport: clusterTransport, handler: accounts)
            logger.info(
                "starting node",
                metadata: ["nodeID": "\(nodeID)", "shardCount": "\(shardMap.shards(ownedBy: nodeID).count)"])
            try node.start()
            nodes.append(node)
        }
        let started = nodes
        steps.append(ShutdownStep(name: "nodes") { for node in started { node.stop() } })

        let client = ClusterClient(transport: clusterTransport, shardMap: shardMap)
        func send(_ command: AccountCommand, _ account: String) async throws -> AccountReply {
            let reply = try await client.request(AccountCommandRequest(command), key: account)
            if let error = reply.domainError { throw DemoError("\(account): \(error)") }
            return reply
        }

        logger.info("=== Demo: Event-Sourced Bank Accounts ===")
        logger.info("opening accounts...")
        let accounts = ["alice", "bob", "charlie"]
        for account in accounts {
            let reply = try await send(.open(initial: 100), account)
            logger.info(
                "opened account",
                metadata: ["node": "\(reply.node)", "account": "\(account)", "balance": "\(reply.balance)"])
        }

        logger.info("performing transactions...")
        let transactions: [(String, AccountCommand, Int64)] = [
            ("alice", .deposit(amount: 50), 50), ("bob", .withdraw(amount: 30), 30),
            ("charlie", .deposit(amount: 200), 200),
        ]
        for (account, command, amount) in transactions {
            let reply = try await send(command, account)
            let verb = if case .withdraw = command { "withdrew" } else { "deposited" }
            logger.info(
                "\(verb)",
                metadata: [
                    "node": "\(reply.node)", "account": "\(account)", "amount": "\(amount)",
                    "balance": "\(reply.balance)",
                ])
        }

        logger.info("querying final balances...")
        for account in accounts {
            let reply = try await client.request(GetAccount(), key: account)
            logger.info(
                "get balance",
                metadata: ["node": "\(reply.node)", "account": "\(account)", "balance": "\(reply.balance)"])
        }

        logger.info("dropping the actors: balances rebuilt from the event store...")
        for account in accounts {
            _ = try await client.request(PassivateAccount(), key: account)
        }
        for account in accounts {
            let reply = try await client.request(GetAccount(), key: account)
            logger.info(
                "rebuilt from events",
                metadata: [
                    "node": "\(reply.node)", "account": "\(account)", "balance": "\(reply.balance)",
                    "version": "\(reply.version)", "events_replayed": "\(reply.replayed)",
                    "snapshot_version": "\(reply.snapshotVersion)",
                ])
        }
        logger.info("demo complete, shutting down...")
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
