import ArgumentParser
import ServiceKit

/// `accounting`: the event-sourced bank (Cluster + Actor + Event Sourcing). Started by `main.swift`.
struct AccountingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounting",
        abstract: "Event-sourced bank accounts: the spec's demo, and an HTTP service.",
        discussion: """
            With no subcommand, runs the spec's demo (3 nodes, 64 shards, seed demo-cluster) on a SQLite store \
            in a temporary directory. `serve` runs the HTTP API (nodes, front and metrics in one process); over \
            NATS, run `node` processes and a `gateway`.
            """,
        subcommands: [Demo.self, Serve.self, Node.self, Gateway.self],
        defaultSubcommand: Demo.self)
}

extension AccountingCommand {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "demo", abstract: "Open accounts, move money, drop the actors and rebuild them from the store."
        )

        @OptionGroup var cluster: ClusterOptions<AccountingDefaults>
        @OptionGroup var transport: TransportOptions<AccountingDefaults>
        @Option(
            help: "The event store: sqlite (in a temporary directory unless --data-dir; default), memory or jetstream.")
        var store: StoreKind = .sqlite
        @Option(name: .customLong("data-dir"), help: "Keep the SQLite files here (default: a temporary directory).")
        var dataDir: String?
        @Option(help: "The lowest log level.")
        var logLevel: String = "info"

        func validate() throws {
            if store == .jetstream && transport.natsURL == nil && transport.natsServer == nil {
                throw ValidationError("--store jetstream needs --nats-url or --nats-server auto")
            }
        }

        func run() async throws {
            try await AccountingDemo(
                cluster: cluster, transport: transport, store: store, dataDir: dataDir, logLevel: logLevel
            ).run()
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve", abstract: "Run the nodes, the HTTP API and the metrics endpoint in one process.")

        @OptionGroup var cluster: ClusterOptions<AccountingDefaults>
        @OptionGroup var transport: TransportOptions<AccountingDefaults>
        @OptionGroup var process: ProcessOptions<AccountingDefaults>
        @OptionGroup var storage: StoreOptions

        func validate() throws {
            if storage.store == .jetstream && transport.natsURL == nil && transport.natsServer == nil {
                throw ValidationError("--store jetstream needs --nats-url or --nats-server auto")
            }
        }

        func run() async throws {
            try await AccountingApp(
                mode: .all, cluster: cluster, transport: transport, process: process, storage: storage
            ).run()
        }
    }

    struct Node: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "node",
            abstract: "Run one node (serves its shards over NATS, its store under --data-dir/<id>).")

        @Option(help: "This node's ID (one of the cluster's node IDs).")
        var nodeID: String

        @OptionGroup var cluster: ClusterOptions<AccountingDefaults>
        @OptionGroup var transport: TransportOptions<AccountingDefaults>
        @OptionGroup var process: ProcessOptions<AccountingDefaults>
        @OptionGroup var storage: StoreOptions

        func validate() throws {
            guard transport.resolved(natsByDefault: true) == .nats else {
                throw ValidationError("node runs over NATS: --transport memory makes no sense here")
            }
            guard cluster.resolvedNodeIDs.contains(nodeID) else {
                throw ValidationError("--node-id \(nodeID) is not one of the cluster's nodes")
            }
            if storage.store == .jetstream && transport.natsURL == nil {
                throw ValidationError("a node's --store jetstream needs --nats-url (the cluster's NATS server)")
            }
        }

        func run() async throws {
            try await AccountingApp(
                mode: .node(nodeID), cluster: cluster, transport: transport, process: process, storage: storage
            ).run()
        }
    }

    struct Gateway: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gateway", abstract: "Run the HTTP API only; requests go to the nodes over NATS.")

        @OptionGroup var cluster: ClusterOptions<AccountingDefaults>
        @OptionGroup var transport: TransportOptions<AccountingDefaults>
        @OptionGroup var process: ProcessOptions<AccountingDefaults>

        @Option(
            help: """
                jetstream: open the cluster's JetStream store (at --nats-url) and serve GET /stats from a projection \
                of its global log; none (default): /stats answers 503 (per-node SQLite files are not readable here).
                """)
        var store: GatewayStore = .none

        enum GatewayStore: String, ExpressibleByArgument, CaseIterable, Sendable {
            case none
            case jetstream
        }

        func validate() throws {
            guard transport.resolved(natsByDefault: true) == .nats else {
                throw ValidationError("gateway runs over NATS: --transport memory makes no sense here")
            }
        }

        func run() async throws {
            try await AccountingApp(
                mode: .gateway, cluster: cluster, transport: transport, process: process, storage: StoreOptions(),
                gatewayStats: store == .jetstream
            ).run()
        }
    }
}
