import ClstrRuntime
import HTTPFront
import Logging
import ProcessKit
import RuntimeNATS
import ServiceLifecycle

/// What every service process does around its own parts: logfmt logging, the loops, start-up in order with
/// teardown in reverse, graceful shutdown on SIGTERM/SIGINT in a `ServiceGroup`.
public enum ServiceRunner {
    /// Bootstraps logfmt logging at `level` (once per process) and returns a logger labelled `label`.
    public static func bootstrapLogging(label: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }

    /// Starts a service's parts with `start` (which appends a ``ShutdownStep`` per part, in start order), then
    /// runs them until SIGTERM/SIGINT and shuts them down in reverse order. A failing start tears down what was
    /// started and rethrows.
    /// - Parameters:
    ///   - engine: the HTTP engine.
    ///   - threads: loop threads.
    ///   - logger: the service's logger.
    ///   - start: starts the parts on the loops.
    public static func run(
        engine: HTTPEngineKind, threads: Int, logger: Logger,
        start: (ServiceLoops, inout [ShutdownStep]) async throws -> Void
    ) async throws {
        let loops = ServiceLoops(engine: engine, threads: threads)
        var steps: [ShutdownStep] = []
        do {
            try await start(loops, &steps)
        } catch {
            for step in steps.reversed() { await step.teardown() }
            await loops.shutdown()
            logger.error("start-up failed", metadata: ["error": "\(error)"])
            throw error
        }
        // ServiceGroup shuts down the last service first.
        let serviceGroup = ServiceGroup(
            services: steps, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        try await serviceGroup.run()
        await loops.shutdown()
        logger.info("stopped")
    }

    /// Starts the metrics endpoint (`GET /metrics`) and adds its shutdown step.
    /// - Returns: the bound port.
    @discardableResult
    public static func startMetrics(
        _ service: any HTTPService, host: String, port: Int, loops: ServiceLoops, logger: Logger,
        steps: inout [ShutdownStep]
    ) async throws -> Int {
        var configuration = HTTPServerConfiguration(host: host, port: port)
        configuration.shutdownGracePeriod = .seconds(1)
        let server = loops.server(configuration: configuration, service: service, logger: logger)
        let bound = try await server.start()
        logger.info("prometheus metrics server starting", metadata: ["port": "\(bound)"])
        steps.append(ShutdownStep(name: "metrics") { await server.shutdown() })
        return bound
    }

    /// Starts the HTTP front and adds its shutdown step (stop accepting, finish in-flight requests).
    /// - Returns: the server (its metrics belong on the metrics endpoint) and the bound port.
    public static func startFront(
        _ service: any HTTPService, configuration: HTTPServerConfiguration, loops: ServiceLoops, logger: Logger,
        steps: inout [ShutdownStep]
    ) async throws -> (server: any HTTPServing, port: Int) {
        var configuration = configuration
        configuration.shutdownGracePeriod = .seconds(5)
        let server = loops.server(configuration: configuration, service: service, logger: logger)
        let bound = try await server.start()
        logger.info("HTTP server starting", metadata: ["port": "\(bound)"])
        steps.append(
            ShutdownStep(name: "http") {
                logger.info("shutting down: HTTP front stops accepting, finishing in-flight requests")
                await server.shutdown()
            })
        return (server, bound)
    }

    /// A started nats-server child (`--nats-server auto`) and its URL.
    public struct NATSChild: Sendable {
        public let url: String
        public let pid: Int32
    }

    /// Starts a nats-server child on a free loopback port (`--nats-server auto`); its stop step goes first in
    /// `steps`, so it is stopped last.
    public static func startNATSServer(
        logger: Logger, jetStream: Bool = false, steps: inout [ShutdownStep]
    ) throws -> NATSChild {
        logger.info("starting NATS server...")
        let child: NATSServer
        do {
            child = try NATSServer(jetStream: jetStream)
        } catch {
            throw ServiceStartError("cannot start nats-server: \(error)")
        }
        steps.insert(
            ShutdownStep(name: "nats-server") {
                child.stop()
                logger.info("NATS server stopped", metadata: ["pid": "\(child.pid)"])
            }, at: 0)
        logger.info("NATS ready", metadata: ["url": "\(child.url)", "pid": "\(child.pid)"])
        return NATSChild(url: child.url, pid: child.pid)
    }

    /// Connects the cluster transport (`memory` or `nats`, starting a nats-server child for `--nats-server auto`
    /// unless `natsURLs` is given) and adds its close step.
    /// - Parameters:
    ///   - kind: the resolved transport.
    ///   - options: the transport options.
    ///   - natsURLs: URLs to use instead of the options' (a child already started).
    ///   - clientName: the NATS connection's name.
    ///   - shardMap: the cluster's routing, when known: NATS batches then go to the owner node's subject.
    public static func connectTransport<D: ServiceDefaults>(
        _ kind: TransportKind, options: TransportOptions<D>, natsURLs: [String]? = nil, clientName: String,
        shardMap: ShardMap? = nil, logger: Logger, steps: inout [ShutdownStep]
    ) throws -> any ClusterTransport {
        let transport: any ClusterTransport
        switch kind {
        case .memory:
            transport = InMemoryTransport()
        case .nats:
            var urls = natsURLs ?? options.natsURL?.split(separator: ",").map(String.init) ?? ["nats://127.0.0.1:4222"]
            if natsURLs == nil && options.natsServer == "auto" {
                urls = [try startNATSServer(logger: logger, steps: &steps).url]
            }
            var configuration = NATSTransport.Configuration(
                urls: urls, subjectPrefix: options.subjectPrefix, logger: logger)
            configuration.name = clientName
            configuration.batching = options.batchesNATSMessages
            if let shardMap, options.natsBatchDestination == .node {
                configuration.shardOwners = (0..<shardMap.numShards).map { shardMap.owner(ofShard: $0) }
            }
            do {
                transport = try NATSTransport(configuration: configuration)
            } catch {
                throw ServiceStartError("cannot connect to NATS at \(urls.joined(separator: ",")): \(error)")
            }
            logger.info(
                "NATS connected",
                metadata: ["url": "\(urls.joined(separator: ","))", "batching": "\(options.natsBatching)"])
        }
        steps.append(
            ShutdownStep(name: "transport") {
                transport.close()
                logger.info("transport closed")
            })
        return transport
    }

    /// Adds the step that logs the ready line once the group's signal handlers are installed (a SIGTERM sent
    /// by someone who saw it always shuts down gracefully).
    public static func announceReady(_ announce: @escaping @Sendable () -> Void, steps: inout [ShutdownStep]) {
        steps.insert(ShutdownStep(name: "ready", announce: announce) {}, at: 0)
    }
}

/// A start-up failure of a service, with a message for the operator.
public struct ServiceStartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
