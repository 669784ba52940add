import Foundation
import TestKit
import Testing

@Suite("accounting over NATS: node processes, a gateway, the JetStream store", .serialized)
struct AccountingNATSTests {
    /// Starts `accounting <arguments>` and waits for `ready` in its log.
    func start(_ arguments: [String], ready: String) throws -> ChildProcess {
        let child = try ChildProcess(executable: try AccountingProcess.executable(), arguments: arguments)
        let up = ChildProcess.waitUntil(timeout: 30) { child.output.contains(ready) || !child.process.isRunning }
        guard up, child.process.isRunning else {
            child.stop(signal: SIGKILL)
            throw FixtureError("accounting \(arguments) did not become ready: \(child.output)")
        }
        return child
    }

    @Test(
        "a killed node's accounts are rebuilt from the store by its restarted process",
        arguments: ["jetstream"])
    func killedNodeRebuilds(store: String) async throws {
        try await withBlockingAllowed {
            let server = try NATSServer(jetStream: true)
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let common = ["--nats-url", server.url, "--metrics-port", "0"]
            func node(_ id: String) throws -> ChildProcess {
                try start(
                    ["node", "--node-id", id, "--store", store, "--data-dir", directory] + common, ready: "node ready")
            }
            var nodes = try ["node-0", "node-1", "node-2"].map { try node($0) }
            let port = FreePort.next()
            // The gateway reads the cluster's JetStream store for GET /stats (the projection lives here).
            let gateway = try start(
                ["gateway", "--http-port", String(port), "--store", "jetstream"] + common, ready: "Accounting Ready")
            defer {
                gateway.stop()
                for child in nodes { child.stop() }
            }
            func request(_ method: String, _ path: String, _ body: String? = nil) throws -> RawHTTPResponse {
                let connection = try RawHTTPConnection(port: port)
                defer { connection.close() }
                return try connection.request(method, path, body: body)
            }
            #expect(try request("POST", "/accounts/alice", #"{"initial": 100}"#).status == 201)
            #expect(try request("POST", "/accounts/bob").status == 201)
            #expect(try request("POST", "/accounts/alice/deposit", #"{"amount": 50}"#).status == 200)
            #expect(try request("POST", "/transfers", #"{"from":"alice","to":"bob","amount":30}"#).status == 200)

            // alice lives on node-1 (seed demo-cluster): kill it without a goodbye, start it again.
            nodes[1].stop(signal: SIGKILL)
            // Not served while it is down: 503 once nats-server has seen the connection go (no responders); a
            // request that races the kill reaches the dead subscription and ends at its deadline with 504 instead.
            let downStatus = try request("GET", "/accounts/alice").status
            #expect(downStatus == 503 || downStatus == 504, "status \(downStatus)")
            nodes[1] = try node("node-1")
            let alice = json(try request("GET", "/accounts/alice").body)
            #expect(alice?["balance"] as? Int == 120)
            #expect(alice?["version"] as? Int == 3)
            #expect(json(try request("GET", "/accounts/bob").body)?["balance"] as? Int == 30)

            // GET /stats on the gateway: a projection of the global log every node appends to.
            var stats: [String: Any]?
            let projected = ChildProcess.waitUntil(timeout: 20) {
                stats = json((try? request("GET", "/stats").body) ?? "")
                return stats?["lag"] as? Int == 0 && stats?["total_balance"] as? Int == 150
            }
            #expect(projected, "\(String(describing: stats))")
            #expect(stats?["accounts"] as? Int == 2)
            #expect(stats?["events"] as? Int == 5)  // 2 opens, a deposit, a debit and a credit
            server.stop()
        }
    }
}
