import ArgumentParser
import ClstrRuntime
import EventSourcing
import EventStoreSQLite
import Foundation
import HTTPFront
import Logging
import NIOCore
import RuntimeNATS
import ServiceKit

/// accounting's defaults: the spec demo's cluster (3 nodes, seed `demo-cluster`), ports beside counter-service's.
enum AccountingDefaults: ServiceDefaults {
    static let nodes = 3
    static let seed = "demo-cluster"
    static let subjectPrefix = "accounting"
    static let httpPort = 8282
    static let metricsPort = 2122
}

/// Which event store keeps the accounts.
enum StoreKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// In memory: lost on exit.
    case memory
    /// SQLite files under `--data-dir` (WAL, synchronous=FULL, group commit): the durable default.
    case sqlite
    /// NATS JetStream.
    case jetstream
}

/// The event store options.
struct StoreOptions: ParsableArguments {
    @Option(help: "The event store: sqlite (durable, the default), memory, or jetstream.")
    var store: StoreKind = .sqlite

    @Option(name: .customLong("data-dir"), help: "Where the SQLite files live (created when missing).")
    var dataDir: String = "./data"

    @Option(
        name: .customLong("memory-capacity"),
        help:
            "With --store memory: events to size the event-ID index for up front (past that it reallocates, a stall of milliseconds once large)."
    )
    var memoryCapacity: Int = 1 << 20

    @Option(name: .customLong("snapshot-every"), help: "Save an account's snapshot every N events (0: never).")
    var snapshotEvery: Int = 100

    @Option(
        name: .customLong("idempotency-window"),
        help: "How many Idempotency-Keys each account remembers in memory (older ones are looked up in the store).")
    var idempotencyWindow: Int = 1024

    /// Where JetStream is: the `--nats-url` URLs, or nil when a nats-server child must be started
    /// (`--nats-server auto`, with JetStream enabled).
    static func natsURLs<D: ServiceDefaults>(_ transport: TransportOptions<D>) -> [String]? {
        transport.natsURL?.split(separator: ",").map(String.init)
    }

    func validate() throws {
        guard snapshotEvery >= 0 else { throw ValidationError("--snapshot-every must be ≥ 0") }
        guard idempotencyWindow >= 1 else { throw ValidationError("--idempotency-window must be ≥ 1") }
        guard !dataDir.isEmpty else { throw ValidationError("--data-dir must not be empty") }
    }
}

/// An opened store and how to close it.
struct OpenedStore: Sendable {
    let events: any EventStore
    let snapshots: (any SnapshotStore)?
    let description: String
    var close: @Sendable () -> Void = {}
}

extension StoreOptions {
    /// Opens the store for this process (`directory` under the data dir for SQLite, `natsURLs` for JetStream).
    func open(directory: String, natsURLs: [String], logger: Logger) throws -> OpenedStore {
        switch store {
        case .memory:
            return OpenedStore(
                events: InMemoryEventStore(capacity: memoryCapacity), snapshots: InMemorySnapshotStore(),
                description: "memory")
        case .sqlite:
            let store: SQLiteEventStore
            do {
                store = try SQLiteEventStore(directory: directory)
            } catch {
                throw ServiceStartError("cannot open the SQLite store in \(directory): \(error)")
            }
            return OpenedStore(events: store, snapshots: store, description: store.path) { store.close() }
        case .jetstream:
            return try Self.openJetStream(natsURLs: natsURLs)
        }
    }
}

extension StoreOptions {
    /// Opens the cluster's JetStream store (the events of every node, one global log): for a node or `serve`, and
    /// for a gateway that serves `GET /stats` from it.
    static func openJetStream(natsURLs: [String]) throws -> OpenedStore {
        var options = NATSConnection.Options(urls: natsURLs)
        options.name = "accounting-store"
        options.reconnectWait = .milliseconds(100)
        do {
            let connection = try NATSConnection(options: options)
            let configuration = JetStreamEventStore.Configuration(prefix: "accounting")
            let events = try JetStreamEventStore(connection: connection, configuration: configuration)
            let snapshots = try JetStreamSnapshotStore(context: events.context, prefix: "accounting")
            return OpenedStore(
                events: events, snapshots: snapshots,
                description: "jetstream:\(configuration.streamName)@\(natsURLs.joined(separator: ","))"
            ) {
                events.close()
                connection.close()
            }
        } catch {
            throw ServiceStartError(
                "cannot open the JetStream store at \(natsURLs.joined(separator: ",")): \(error)")
        }
    }
}

/// Assembles and runs the accounting service in one of its modes.
struct AccountingApp {
    enum Mode: Sendable, Equatable {
        case all
        case node(String)
        case gateway
    }

    let mode: Mode
    let cluster: ClusterOptions<AccountingDefaults>
    let transport: TransportOptions<AccountingDefaults>
    let process: ProcessOptions<AccountingDefaults>
    let storage: StoreOptions
    /// A gateway only: open the cluster's JetStream store and serve `GET /stats` from a projection of its log.
    var gatewayStats = false

    func run() async throws {
        let logger = ServiceRunner.bootstrapLogging(label: "accounting", level: process.level)
        let threads = process.threads ?? System.coreCount
        try await ServiceRunner.run(engine: process.httpEngine, threads: threads, logger: logger) { loops, steps in
            try await start(loops: loops, logger: logger, steps: &steps)
        }
    }

    private func start(loops: ServiceLoops, logger: Logger, steps: inout [ShutdownStep]) async throws {
        let shardMap = ShardMap(nodeIDs: cluster.resolvedNodeIDs, numShards: cluster.shards, seed: cluster.seed)
        let localNodes: [String] =
            switch mode {
            case .all: shardMap.nodeIDs
            case .node(let id): [id]
            case .gateway: []
            }

        let metrics = MetricsEndpoint()
        try await ServiceRunner.startMetrics(
            metrics, host: process.host, port: process.metricsPort, loops: loops, logger: logger, steps: &steps)

        // With the JetStream store and `--nats-server auto`, the child runs JetStream and serves both.
        var natsURLs = StoreOptions.natsURLs(transport)
        if mode != .gateway && storage.store == .jetstream && transport.natsServer == "auto" {
            natsURLs = [try ServiceRunner.startNATSServer(logger: logger, jetStream: true, steps: &steps).url]
        }
        let clusterTransport = try ServiceRunner.connectTransport(
            transport.resolved(natsByDefault: mode != .all), options: transport, natsURLs: natsURLs,
            clientName: mode == .gateway ? "accounting-gateway" : "accounting-\(localNodes.first ?? "all")",
            shardMap: shardMap, logger: logger, steps: &steps)
        let client = ClusterClient(transport: clusterTransport, shardMap: shardMap)

        // The store: one for the process (serve), one per node process (node); a gateway opens the cluster's
        // JetStream store only to serve /stats (`gateway --store jetstream`).
        var store: OpenedStore?
        if mode != .gateway || gatewayStats {
            let urls = natsURLs ?? ["nats://127.0.0.1:4222"]
            let opened: OpenedStore
            switch mode {
            case .gateway: opened = try StoreOptions.openJetStream(natsURLs: urls)
            case .node(let id):
                opened = try storage.open(directory: storage.dataDir + "/" + id, natsURLs: urls, logger: logger)
            case .all: opened = try storage.open(directory: storage.dataDir, natsURLs: urls, logger: logger)
            }
            logger.info(
                "event store opened",
                metadata: [
                    "store": "\(mode == .gateway ? StoreKind.jetstream.rawValue : storage.store.rawValue)",
                    "path": "\(opened.description)",
                ])
            steps.append(
                ShutdownStep(name: "store") {
                    opened.close()
                    logger.info("event store closed")
                })
            store = opened
        }

        var accountNodes: [AccountNode] = []
        var transfers: TransferProcessManager?
        // A process that serves /stats and holds nodes follows the log once for both (a second follower copied
        // every event out of the store again: ~350 instructions per deposit on the memory store under callgrind).
        let sharedFollower = mode == .all
        if let store, mode != .gateway {
            var nodes: [ClusterNode] = []
            for nodeID in localNodes {
                let accounts = AccountNode(
                    nodeID: nodeID, store: store.events, snapshots: store.snapshots,
                    snapshotEvery: UInt64(storage.snapshotEvery), idempotencyWindow: storage.idempotencyWindow,
                    logger: logger)
                let node = ClusterNode(
                    nodeID: nodeID, shardMap: shardMap, transport: clusterTransport, handler: accounts)
                logger.info(
                    "starting node",
                    metadata: ["nodeID": "\(nodeID)", "shardCount": "\(shardMap.shards(ownedBy: nodeID).count)"])
                try node.start()
                nodes.append(node)
                accountNodes.append(accounts)
            }
            let started = nodes
            steps.append(
                ShutdownStep(name: "nodes") {
                    for node in started { node.stop() }
                    logger.info("nodes stopped", metadata: ["count": "\(started.count)"])
                })
            // Interrupted transfers are completed by whoever holds their debit's log.
            let manager = TransferProcessManager(
                store: store.events, client: client, logger: logger, ownFollower: !sharedFollower)
            manager.start()
            steps.append(ShutdownStep(name: "transfers") { manager.stop() })
            transfers = manager
        }

        var stats: StatsProjection?
        if let store, mode == .all || mode == .gateway {
            var alsoApply: (@Sendable ([RecordedEvent]) -> Void)?
            if sharedFollower, let manager = transfers {
                alsoApply = { events in manager.apply(events) }
            }
            let projection = StatsProjection(store: store.events, alsoApply: alsoApply)
            projection.follower.start()
            steps.append(ShutdownStep(name: "stats") { projection.follower.stop() })
            stats = projection
        }

        var front: (any HTTPServing)?
        if mode == .all || mode == .gateway {
            front = try await ServiceRunner.startFront(
                AccountingHTTPService(client: client, stats: stats),
                configuration: process.frontConfiguration(port: process.httpPort), loops: loops, logger: logger,
                steps: &steps
            ).server
        }
        let frontServer = front
        let nodesForMetrics = accountNodes
        let statsProjection = stats
        metrics.install {
            var text = PrometheusExposition()
            frontServer?.metrics.render(into: &text)
            text.header("accounting_entities_alive", type: "gauge", help: "Account entities in memory.")
            text.sample("accounting_entities_alive", value: nodesForMetrics.reduce(0) { $0 + $1.count })
            if let statsProjection {
                text.header(
                    "accounting_projection_lag", type: "gauge",
                    help: "Global log events the stats projection is behind.")
                text.sample("accounting_projection_lag", value: Int(statsProjection.follower.lag))
            }
            HeapMetrics.render(into: &text)
            return text.text
        }
        let mode = self.mode
        ServiceRunner.announceReady(
            {
                switch mode {
                case .all, .gateway: logger.info("=== Accounting Ready ===")
                case .node(let id): logger.info("node ready", metadata: ["nodeID": "\(id)"])
                }
            }, steps: &steps)
    }
}
