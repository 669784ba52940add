import ArgumentParser
import ServiceKit

/// `counter-service`: the distributed counter over HTTP.
@main
struct CounterServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "counter-service",
        abstract: "The distributed counter over HTTP (Cluster + Actor), with Prometheus metrics.",
        discussion: """
            With no subcommand, everything runs in one process: the nodes, the HTTP front and the metrics \
            endpoint (embedded, over the in-memory transport unless --transport nats). To scale out over NATS, \
            run `node` processes and a `gateway`.
            """,
        subcommands: [Serve.self, Node.self, Gateway.self],
        defaultSubcommand: Serve.self)
}

extension CounterServiceCommand {
    /// Everything in one process (the default).
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve", abstract: "Run the nodes, the HTTP front and the metrics endpoint in one process.")

        @OptionGroup var cluster: ClusterOptions<CounterDefaults>
        @OptionGroup var transport: TransportOptions<CounterDefaults>
        @OptionGroup var process: ProcessOptions<CounterDefaults>

        func run() async throws {
            try await CounterApp(mode: .all, cluster: cluster, transport: transport, process: process).run()
        }
    }

    /// One node only (over NATS).
    struct Node: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "node", abstract: "Run one node of the cluster (serves its shards over NATS).")

        @Option(help: "This node's ID (one of the cluster's node IDs).")
        var nodeID: String

        @OptionGroup var cluster: ClusterOptions<CounterDefaults>
        @OptionGroup var transport: TransportOptions<CounterDefaults>
        @OptionGroup var process: ProcessOptions<CounterDefaults>

        func validate() throws {
            guard transport.resolved(natsByDefault: true) == .nats else {
                throw ValidationError("node runs over NATS: --transport memory makes no sense here")
            }
            guard cluster.resolvedNodeIDs.contains(nodeID) else {
                throw ValidationError(
                    "--node-id \(nodeID) is not one of the cluster's nodes (\(cluster.resolvedNodeIDs.joined(separator: ",")))"
                )
            }
        }

        func run() async throws {
            try await CounterApp(mode: .node(nodeID), cluster: cluster, transport: transport, process: process).run()
        }
    }

    /// The HTTP front only (over NATS).
    struct Gateway: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gateway", abstract: "Run the HTTP front only; requests go to the nodes over NATS.")

        @OptionGroup var cluster: ClusterOptions<CounterDefaults>
        @OptionGroup var transport: TransportOptions<CounterDefaults>
        @OptionGroup var process: ProcessOptions<CounterDefaults>

        func validate() throws {
            guard transport.resolved(natsByDefault: true) == .nats else {
                throw ValidationError("gateway runs over NATS: --transport memory makes no sense here")
            }
        }

        func run() async throws {
            try await CounterApp(mode: .gateway, cluster: cluster, transport: transport, process: process).run()
        }
    }
}
