import HTTPFront
import Logging
import NIOCore
import NIOPosix
import ClstrRuntime
import RuntimeNATS
import ServiceKit

/// Assembles and runs the counter service in one of its modes.
struct CounterApp {
    /// What this process runs.
    enum Mode: Sendable, Equatable {
        /// Nodes, HTTP front and metrics in one process.
        case all
        /// One node.
        case node(String)
        /// The HTTP front only.
        case gateway
    }

    let mode: Mode
    let cluster: ClusterOptions<CounterDefaults>
    let transport: TransportOptions<CounterDefaults>
    let process: ProcessOptions<CounterDefaults>

    func run() async throws {
        let logger = ServiceRunner.bootstrapLogging(label: "counter", level: process.level)
        let threads = process.threads ?? System.coreCount
        try await ServiceRunner.run(engine: process.httpEngine, threads: threads, logger: logger) { loops, steps in
            try await start(loops: loops, threads: threads, logger: logger, steps: &steps)
        }
    }

    private func start(
        loops: ServiceLoops, threads: Int, logger: Logger, steps: inout [ShutdownStep]
    ) async throws {
        let transportKind = transport.resolved(natsByDefault: mode != .all)
        let shardMap = ShardMap(nodeIDs: cluster.resolvedNodeIDs, numShards: cluster.shards, seed: cluster.seed)
        let clusterMetrics = ClusterOutcomeMetrics(shards: threads)
        let runsNodes = mode != .gateway
        let runsFront = mode == .all || mode == .gateway
        let actorMetrics = runsNodes ? ActorMetrics() : nil
        let localNodes: [String] =
            switch mode {
            case .all: shardMap.nodeIDs
            case .node(let id): [id]
            case .gateway: []
            }

        // The HTTP front is created first (its metrics are part of the endpoint) but listens last.
        var front: (any HTTPServing)?

        // Metrics endpoint.
        let metricsService = MetricsHTTPService()
        try await ServiceRunner.startMetrics(
            metricsService, host: process.host, port: process.metricsPort, loops: loops, logger: logger,
            steps: &steps)

        // Transport.
        let clusterTransport = try ServiceRunner.connectTransport(
            transportKind, options: transport,
            clientName: mode == .gateway ? "counter-gateway" : "counter-\(localNodes.first ?? "all")",
            shardMap: shardMap, logger: logger, steps: &steps)

        // Nodes.
        if runsNodes, let actorMetrics {
            let executor: any ActorExecutor
            let workerPool: WorkerPool?
            // Measured (wrk -t1 -c200, 2 shared cores): the shard's event loop costs the least CPU per request
            // (about 7.0–7.8 µs against 8.0–8.7 µs for the worker pool) at the same throughput within noise, and over
            // NATS it gave steadier tails than running turns on the libnats delivery threads (`inline`).
            switch process.executor ?? .eventloop {
            case .eventloop:
                executor = loops.executor
                workerPool = nil
            case .workers:
                let pool = WorkerPool()
                executor = pool
                workerPool = pool
            case .inline:
                executor = InlineExecutor()
                workerPool = nil
            }
            var nodes: [ClusterNode] = []
            var registries: [ActorRegistry<String, Int>] = []
            for nodeID in localNodes {
                var options = ActorRegistryOptions()
                // At most 256 messages queued (the reference's mailbox size; the mailbox starts with 2 slots and
                // grows on demand); a full mailbox fails at once (503). The default `.wait` would not wait on the
                // loop that runs the actor (it fails there too), but it would stall another loop, and every
                // connection on it, behind one hot key.
                options.actor.mailboxCapacity = 256
                options.actor.overflow = .fail
                // Idle counters give back their actor (cell and mailbox, under 1 KiB) and keep only their value,
                // which the key's next actor starts from: many idle ids cost a few bytes each and lose nothing.
                options.idleTimeout = .seconds(10)
                options.retainsPassivatedState = true
                let behavior = CounterBehavior.make()
                let registry = ActorRegistry<String, Int>(
                    executor: executor, options: options, metrics: actorMetrics,
                    affinity: { key in shardMap.shard(forKey: key) },
                    factory: { _ in (0, behavior) })
                let handler = KeyedActorHandler(registry: registry)
                handler.register(Increment.self)
                handler.register(GetValue.self)
                let node = ClusterNode(
                    nodeID: nodeID, shardMap: shardMap, transport: clusterTransport,
                    handler: CounterShardHandler(handler))
                logger.info(
                    "starting node",
                    metadata: ["nodeID": "\(nodeID)", "shardCount": "\(shardMap.shards(ownedBy: nodeID).count)"])
                try node.start()
                nodes.append(node)
                registries.append(registry)
            }
            let startedNodes = nodes
            let startedRegistries = registries
            steps.append(
                ShutdownStep(name: "nodes") {
                    for node in startedNodes { node.stop() }
                    for registry in startedRegistries { registry.shutdown() }
                    workerPool?.shutdown()
                    logger.info("nodes stopped", metadata: ["count": "\(startedNodes.count)"])
                })
        }

        // HTTP front.
        if runsFront {
            let clusterClient = ClusterClient(transport: clusterTransport, shardMap: shardMap)
            front = try await ServiceRunner.startFront(
                CounterHTTPService(client: clusterClient, clusterMetrics: clusterMetrics),
                configuration: process.frontConfiguration(port: process.httpPort), loops: loops, logger: logger,
                steps: &steps
            ).server
        }
        metricsService.install(
            MetricsSources(
                http: front, cluster: runsFront ? clusterMetrics : nil, actors: actorMetrics,
                shardsOwned: localNodes.map { ($0, shardMap.shards(ownedBy: $0).count) }))
        // Announced from inside the service group, once its signal handlers are installed: a SIGTERM sent by
        // someone who saw this line always shuts down gracefully.
        let mode = self.mode
        ServiceRunner.announceReady(
            {
                switch mode {
                case .all, .gateway: logger.info("=== Counter Demo Ready ===")
                case .node(let id): logger.info("node ready", metadata: ["nodeID": "\(id)"])
                }
            }, steps: &steps)
    }
}

/// counter-service's defaults: 7 nodes, HTTP 8181, metrics 2121 (the spec's).
enum CounterDefaults: ServiceDefaults {
    static let nodes = 7
    static let seed = "counter-cluster"
    static let subjectPrefix = "counter"
    static let httpPort = 8181
    static let metricsPort = 2121
}
