import ArgumentParser
import HTTPFront
import Logging

/// The transport between the HTTP front and the nodes.
public enum TransportKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// In one process, nothing encoded (the default).
    case memory
    /// Over NATS (between processes and machines).
    case nats
}

/// `--nats-batching`: whether requests (and replies) are coalesced per event-loop turn.
public enum NATSBatchingMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Requests leaving one turn for one destination travel as one NATS message (the default).
    case on
    /// One NATS message per request and reply.
    case off
}

/// `--nats-batch-destination`: where request batches are published.
public enum NATSBatchDestination: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// The owner node's subject `<prefix>.node.<id>`, from the shard map (the default; the shard subjects when a
    /// node ID is not one subject token, or no shard map is known).
    case node
    /// The shard's subject `<prefix>.shard.<n>`.
    case shard
}

/// Where actor turns run.
public enum ExecutorKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// On the event loop that owns the actor's shard (shard-per-core; the default, measured faster).
    case eventloop
    /// On a worker pool, one thread per core.
    case workers
    /// On the thread that makes an idle actor runnable (the event loop of the request that arrives first).
    case inline
}

/// What moves the HTTP bytes.
public enum HTTPEngineKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Raw epoll loops (the default, measured faster: no channel pipeline).
    case epoll
    /// SwiftNIO event loops.
    case nio
}

/// What differs between the services that share these options: their defaults.
public protocol ServiceDefaults {
    /// The number of nodes.
    static var nodes: Int { get }
    /// The routing seed.
    static var seed: String { get }
    /// The NATS subject prefix.
    static var subjectPrefix: String { get }
    /// The HTTP port.
    static var httpPort: Int { get }
    /// The metrics port.
    static var metricsPort: Int { get }
}

/// The cluster's shape, shared by every mode.
public struct ClusterOptions<Defaults: ServiceDefaults>: ParsableArguments {
    @Option(help: "Number of nodes (node-0 … node-<N-1>), unless --node-ids names them.")
    public var nodes: Int = Defaults.nodes

    @Option(name: .customLong("node-ids"), help: "Comma-separated node IDs of the whole cluster (overrides --nodes).")
    public var nodeIDs: String?

    @Option(help: "Number of shards.")
    public var shards: Int = 64

    @Option(help: "The routing seed (the same on every process of a cluster).")
    public var seed: String = Defaults.seed

    public init() {}

    /// The cluster's node IDs.
    public var resolvedNodeIDs: [String] {
        if let nodeIDs {
            return nodeIDs.split(separator: ",").map { String($0).trimmingSpaces }
        }
        return (0..<nodes).map { "node-\($0)" }
    }

    public func validate() throws {
        guard (1...100_000).contains(shards) else {
            throw ValidationError("--shards must be between 1 and 100000 (got \(shards))")
        }
        if let nodeIDs {
            let ids = nodeIDs.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
            guard !ids.isEmpty, !ids.contains(where: \.isEmpty) else {
                throw ValidationError("--node-ids must be a comma-separated list of non-empty IDs (got \"\(nodeIDs)\")")
            }
            guard Set(ids).count == ids.count else {
                throw ValidationError("--node-ids contains a duplicate ID (got \"\(nodeIDs)\")")
            }
        } else {
            guard (1...1_000).contains(nodes) else {
                throw ValidationError("--nodes must be between 1 and 1000 (got \(nodes))")
            }
        }
    }
}

/// How the process reaches the other processes.
public struct TransportOptions<Defaults: ServiceDefaults>: ParsableArguments {
    @Option(
        help:
            "The transport: memory (one process; the default) or nats (implied by --nats-url/--nats-server, and by the node and gateway commands)."
    )
    public var transport: TransportKind?

    @Option(name: .customLong("nats-url"), help: "The NATS server URL(s), comma-separated (with --transport nats).")
    public var natsURL: String?

    @Option(
        name: .customLong("nats-server"),
        help: "'auto': start a nats-server child on a free loopback port and stop it on exit (with --transport nats).")
    public var natsServer: String?

    @Option(help: "The NATS subject prefix of the cluster.")
    public var subjectPrefix: String = Defaults.subjectPrefix

    @Option(
        name: .customLong("nats-batching"),
        help:
            "on: requests leaving one event-loop turn for one shard travel as one NATS message, and so do a node's replies to one requester (the default); off: one message per request and reply."
    )
    public var natsBatching: NATSBatchingMode = .on

    @Option(
        name: .customLong("nats-batch-destination"),
        help:
            "Where batches go: node (one subject per node, <prefix>.node.<id>, owner from the shard map; the default; the shard subjects when a node ID is not one subject token, e.g. has a dot) or shard (<prefix>.shard.<n>)."
    )
    public var natsBatchDestination: NATSBatchDestination = .node

    public init() {}

    /// Whether `--nats-batching` is on.
    public var batchesNATSMessages: Bool { natsBatching == .on }

    /// The transport to use: as given, else NATS when a NATS option is given or `natsByDefault`, else memory.
    public func resolved(natsByDefault: Bool) -> TransportKind {
        transport ?? ((natsByDefault || natsURL != nil || natsServer != nil) ? .nats : .memory)
    }

    public func validate() throws {
        if let natsServer, natsServer != "auto" {
            throw ValidationError("--nats-server accepts only 'auto' (got \"\(natsServer)\")")
        }
        if transport == .memory && (natsURL != nil || natsServer != nil) {
            throw ValidationError("--nats-url and --nats-server need --transport nats")
        }
        if natsURL != nil && natsServer != nil {
            throw ValidationError("give either --nats-url or --nats-server auto, not both")
        }
        if let natsURL {
            for url in natsURL.split(separator: ",") where !url.hasPrefix("nats://") && !url.hasPrefix("tls://") {
                throw ValidationError("--nats-url must look like nats://host:port (got \"\(url)\")")
            }
        }
        guard !subjectPrefix.isEmpty, !subjectPrefix.contains(" "), !subjectPrefix.contains("*"),
            !subjectPrefix.contains(">")
        else {
            throw ValidationError("--subject-prefix must be a NATS subject token without spaces or wildcards")
        }
    }
}

/// Ports, logging and scheduling.
public struct ProcessOptions<Defaults: ServiceDefaults>: ParsableArguments {
    @Option(help: "The address to bind (HTTP and metrics).")
    public var host: String = "127.0.0.1"

    @Option(help: "The HTTP port (0 picks a free one and logs it).")
    public var httpPort: Int = Defaults.httpPort

    @Option(help: "The metrics port (0 picks a free one and logs it).")
    public var metricsPort: Int = Defaults.metricsPort

    @Option(help: "The lowest log level: trace, debug, info, notice, warning, error, critical.")
    public var logLevel: String = "info"

    @Option(
        help: "Where actor turns run: eventloop (shard-per-core; default), inline (caller's thread), workers (pool).")
    public var executor: ExecutorKind?

    @Option(
        name: .customLong("http-engine"),
        help: "What serves HTTP: epoll (raw epoll loops; default) or nio (SwiftNIO). Actor turns run on its loops.")
    public var httpEngine: HTTPEngineKind = .epoll

    @Option(help: "Event loop threads (default: one per core).")
    public var threads: Int?

    public init() {}

    @Option(
        name: .customLong("max-connections"),
        help:
            "The most HTTP connections open at once; more are answered 503 and closed (default: 10000, or the descriptor limit less 256)."
    )
    public var maxConnections: Int?

    @Option(
        name: .customLong("header-timeout"),
        help: "Seconds from a request's first byte to the end of its head before 408 and close (0: none).")
    public var headerTimeout: Double = 60

    @Option(
        name: .customLong("body-timeout"),
        help: "Seconds from the end of a request's head to the end of its body before 408 and close (0: none).")
    public var bodyTimeout: Double = 60

    /// The HTTP front's configuration on `port` with these options' connection cap and read deadlines.
    public func frontConfiguration(port: Int) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(host: host, port: port)
        if let maxConnections { configuration.maxConnections = maxConnections }
        configuration.limits.headTimeout = headerTimeout > 0 ? .milliseconds(Int64(headerTimeout * 1_000)) : nil
        configuration.limits.bodyTimeout = bodyTimeout > 0 ? .milliseconds(Int64(bodyTimeout * 1_000)) : nil
        return configuration
    }

    public var level: Logger.Level { Logger.Level(rawValue: logLevel.lowercased()) ?? .info }

    public func validate() throws {
        for (name, port) in [("--http-port", httpPort), ("--metrics-port", metricsPort)]
        where !(0...65_535).contains(port) {
            throw ValidationError("\(name) must be between 0 and 65535 (got \(port))")
        }
        if httpPort != 0 && httpPort == metricsPort {
            throw ValidationError("--http-port and --metrics-port must differ (both \(httpPort))")
        }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError(
                "--log-level must be one of trace, debug, info, notice, warning, error, critical (got \"\(logLevel)\")")
        }
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be between 1 and 256 (got \(threads))")
        }
        guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections must be at least 1 (got \(maxConnections))")
        }
        for (name, seconds) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout)]
        where !(0...86_400).contains(seconds) {
            throw ValidationError("\(name) must be between 0 and 86400 seconds (got \(seconds))")
        }
    }
}

extension String {
    /// The string without leading and trailing spaces.
    public var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " { view.removeFirst() }
        while view.last == " " { view.removeLast() }
        return String(view)
    }
}
