import HTTPFront
import Logging
import NIOCore
import NIOPosix
import ClstrRuntime
import RuntimeNATS
import ServiceLifecycle
import ProcessKit

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
    let cluster: ClusterOptions
    let transport: TransportOptions
    let process: ProcessOptions

    func run() async throws {
        let level = process.level
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
        var logger = Logger(label: "counter")
        logger.logLevel = level

        let threads = process.threads ?? System.coreCount
        let loops = Loops(engine: process.httpEngine, threads: threads)
        var steps: [ShutdownStep] = []
        // Built in start order; torn down in reverse (ServiceGroup shuts down the last service first).
        do {
            try await start(loops: loops, threads: threads, logger: logger, steps: &steps)
        } catch {
            for step in steps.reversed() { await step.teardown() }
            await loops.shutdown()
            logger.error("start-up failed", metadata: ["error": "\(error)"])
            throw error
        }
        let serviceGroup = ServiceGroup(
            services: steps, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        try await serviceGroup.run()
        await loops.shutdown()
        logger.info("stopped")
    }

    /// The loops that serve HTTP and run actor turns: SwiftNIO's or the epoll engine's.
    enum Loops {
        case nio(MultiThreadedEventLoopGroup)
        case epoll(EpollLoopGroup)

        init(engine: HTTPEngineKind, threads: Int) {
            switch engine {
            case .nio: self = .nio(MultiThreadedEventLoopGroup(numberOfThreads: threads))
            case .epoll: self = .epoll(EpollLoopGroup(threads: threads))
            }
        }

        /// Actor turns on the loops (shard-per-core).
        var executor: any ActorExecutor {
            switch self {
            case .nio(let group): EventLoopExecutor(group: group)
            case .epoll(let group): group
            }
        }

        func server(
            configuration: HTTPServerConfiguration, service: any HTTPService, logger: Logger
        ) -> any HTTPServing {
            switch self {
            case .nio(let group):
                HTTPServer(configuration: configuration, service: service, group: group, logger: logger)
            case .epoll(let group):
                EpollHTTPServer(configuration: configuration, service: service, loops: group, logger: logger)
            }
        }

        func shutdown() async {
            switch self {
            case .nio(let group): try? await group.shutdownGracefully()
            case .epoll(let group): group.shutdown()
            }
        }
    }

    private func start(
        loops: Loops, threads: Int, logger: Logger, steps: inout [ShutdownStep]
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
        var metricsConfiguration = HTTPServerConfiguration(host: process.host, port: process.metricsPort)
        metricsConfiguration.shutdownGracePeriod = .seconds(1)
        let metricsServer = loops.server(
            configuration: metricsConfiguration, service: metricsService, logger: logger)
        let metricsPort = try await metricsServer.start()
        logger.info("prometheus metrics server starting", metadata: ["port": "\(metricsPort)"])
        steps.append(ShutdownStep(name: "metrics") { await metricsServer.shutdown() })

        // Transport.
        let clusterTransport: any ClusterTransport
        switch transportKind {
        case .memory:
            clusterTransport = InMemoryTransport()
        case .nats:
            var urls = transport.natsURL?.split(separator: ",").map(String.init) ?? ["nats://127.0.0.1:4222"]
            if transport.natsServer == "auto" {
                logger.info("starting NATS server...")
                let child: NATSServer
                do {
                    child = try NATSServer()
                } catch {
                    throw CounterAppError("cannot start nats-server: \(error)")
                }
                steps.insert(
                    ShutdownStep(name: "nats-server") {
                        child.stop()
                        logger.info("NATS server stopped", metadata: ["pid": "\(child.pid)"])
                    }, at: 0)
                urls = [child.url]
                logger.info("NATS ready", metadata: ["url": "\(child.url)", "pid": "\(child.pid)"])
            }
            var configuration = NATSTransport.Configuration(
                urls: urls, subjectPrefix: transport.subjectPrefix, logger: logger)
            configuration.name = mode == .gateway ? "counter-gateway" : "counter-\(localNodes.first ?? "all")"
            do {
                clusterTransport = try NATSTransport(configuration: configuration)
            } catch {
                throw CounterAppError("cannot connect to NATS at \(urls.joined(separator: ",")): \(error)")
            }
            logger.info("NATS connected", metadata: ["url": "\(urls.joined(separator: ","))"])
        }
        steps.append(
            ShutdownStep(name: "transport") {
                clusterTransport.close()
                logger.info("transport closed")
            })

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
                // 256 slots (the reference's mailbox size) bound the memory of an actor (the ring is allocated
                // up front); a full mailbox fails at once (503). The default `.wait` would not wait on the loop
                // that runs the actor (it fails there too), but it would stall another loop, and every connection
                // on it, behind one hot key.
                options.actor.mailboxCapacity = 256
                options.actor.overflow = .fail
                // Idle counters give back their actor (mailbox ring and cell, ~18 KB) and keep only their value,
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
            var configuration = process.frontConfiguration(port: process.httpPort)
            configuration.shutdownGracePeriod = .seconds(5)
            let server = loops.server(
                configuration: configuration,
                service: CounterHTTPService(client: clusterClient, clusterMetrics: clusterMetrics), logger: logger)
            front = server
            let port = try await server.start()
            logger.info("HTTP server starting", metadata: ["port": "\(port)"])
            steps.append(
                ShutdownStep(name: "http") {
                    logger.info("shutting down: HTTP front stops accepting, finishing in-flight requests")
                    await server.shutdown()
                })
        }
        metricsService.install(
            MetricsSources(
                http: front, cluster: runsFront ? clusterMetrics : nil, actors: actorMetrics,
                shardsOwned: localNodes.map { ($0, shardMap.shards(ownedBy: $0).count) }))
        // Announced from inside the service group, once its signal handlers are installed: a SIGTERM sent by
        // someone who saw this line always shuts down gracefully.
        let mode = self.mode
        steps.insert(
            ShutdownStep(
                name: "ready",
                announce: {
                    switch mode {
                    case .all, .gateway: logger.info("=== Counter Demo Ready ===")
                    case .node(let id): logger.info("node ready", metadata: ["nodeID": "\(id)"])
                    }
                }
            ) {}, at: 0)
    }
}

/// A start-up failure of the counter service, with a message for the operator.
struct CounterAppError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
