import Foundation
import Synchronization
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

    @Test(
        "JetStream: keyed deposits that arrived together, retried after their keys left the window, are not appended again"
    )
    func concurrentKeyedRetriesAfterEviction() async throws {
        try await withBlockingAllowed {
            let server = try NATSServer(jetStream: true)
            defer { server.stop() }
            // A window of 2 keys: every key of a burst is evicted by the bursts after it, so its retry is
            // recognised (or not) by the store alone.
            let service = try AccountingProcess([
                "--store", "jetstream", "--nats-url", server.url, "--idempotency-window", "2",
            ])
            #expect(try service.request("POST", "/accounts/pool").status == 201)
            // Bursts of concurrent keyed deposits: while one append is in flight the others queue up together.
            var firsts: [String: String] = [:]
            for burst in 0..<8 {
                // Connections opened first, then every request written before any answer is read.
                let connections = try (0..<8).map { _ in try RawHTTPConnection(port: service.httpPort) }
                defer { for connection in connections { connection.close() } }
                for (worker, connection) in connections.enumerated() {
                    try connection.send(
                        requestText(
                            "POST", "/accounts/pool/deposit", body: #"{"amount": 1}"#, key: "b\(burst)-\(worker)"))
                }
                for (worker, connection) in connections.enumerated() {
                    let response = try connection.readResponse()
                    #expect(response.status == 200)
                    firsts["b\(burst)-\(worker)"] = response.body
                }
            }
            #expect(firsts.count == 64)
            let balance = try #require(try service.balance("pool"))
            #expect(balance == firsts.count)
            for (key, first) in firsts.sorted(by: { $0.key < $1.key }) {
                let retry = try service.request(
                    "POST", "/accounts/pool/deposit", body: #"{"amount": 1}"#, key: key)
                #expect(retry.status == 200, "retry of \(key): \(retry.status) \(retry.body)")
                #expect(retry.body == first, "retry of \(key)")
            }
            #expect(try service.balance("pool") == balance, "a retried deposit was appended again")
        }
    }

    @Test(
        "nats-server killed and restarted under keyed deposits: no acknowledged deposit lost; keyed retries make it exact"
    )
    func natsServerRestartUnderLoad() async throws {
        try await withBlockingAllowed {
            let server = try NATSServer(jetStream: true)
            defer { server.stop() }
            let service = try AccountingProcess(["--store", "jetstream", "--nats-url", server.url])
            let port = service.httpPort
            #expect(try service.request("POST", "/accounts/safe").status == 201)

            // Workers deposit 1 each with a unique key until told to stop; every key ends answered (2xx) or not.
            let answered = Mutex<Set<String>>([])
            let unanswered = Mutex<Set<String>>([])
            let successes = Atomic<Int>(0)
            let failures = Atomic<Int>(0)
            let stop = Atomic<Bool>(false)
            let group = DispatchGroup()
            for worker in 0..<6 {
                DispatchQueue.global().async(group: group) {
                    var connection = try? RawHTTPConnection(port: port, timeout: 10)
                    var index = 0
                    while !stop.load(ordering: .relaxed) {
                        let key = "n\(worker)-\(index)"
                        index += 1
                        let text = requestText("POST", "/accounts/safe/deposit", body: #"{"amount": 1}"#, key: key)
                        if connection == nil { connection = try? RawHTTPConnection(port: port, timeout: 10) }
                        guard let open = connection, (try? open.send(text)) != nil,
                            let response = try? open.readResponse()
                        else {
                            connection?.close()
                            connection = nil
                            unanswered.withLock { _ = $0.insert(key) }
                            failures.add(1, ordering: .relaxed)
                            continue
                        }
                        if (200..<300).contains(response.status) {
                            answered.withLock { _ = $0.insert(key) }
                            successes.add(1, ordering: .relaxed)
                        } else {
                            // 503 (not applied) or 504 (outcome unknown): retried with its key below.
                            unanswered.withLock { _ = $0.insert(key) }
                            failures.add(1, ordering: .relaxed)
                        }
                    }
                    connection?.close()
                }
            }
            #expect(ChildProcess.waitUntil(timeout: 30) { successes.load(ordering: .relaxed) >= 300 })
            server.stop(signal: SIGKILL)
            // The outage lasts until the service has refused deposits (it noticed), then nats-server comes back on
            // its store.
            #expect(ChildProcess.waitUntil(timeout: 30) { failures.load(ordering: .relaxed) >= 20 })
            try server.start()
            let before = successes.load(ordering: .relaxed)
            #expect(
                ChildProcess.waitUntil(timeout: 60) { successes.load(ordering: .relaxed) >= before + 300 },
                "deposits did not resume after nats-server came back")
            stop.store(true, ordering: .relaxed)
            group.wait()

            let acknowledged = answered.withLock { $0 }
            let retries = unanswered.withLock { $0 }
            #expect(retries.count >= 20)
            let balance = try #require(try service.balance("safe"))
            #expect(balance >= acknowledged.count, "an acknowledged deposit was lost")
            #expect(balance <= acknowledged.count + retries.count)
            for key in retries {
                let (status, body) = Self.depositUntilAnswered(service, key: key)
                #expect(status == 200, "retry of \(key): \(status) \(body)")
            }
            let final = try service.balance("safe")
            #expect(
                final == acknowledged.count + retries.count,
                "balance \(String(describing: final)) after the retries; before them \(balance); acknowledged \(acknowledged.count), retried \(retries.count)"
            )
        }
    }

    /// Retries one keyed deposit until it is answered 200 (a retry may meet the reconnect's tail: 503), for 30 s;
    /// returns the last status and body.
    static func depositUntilAnswered(_ service: AccountingProcess, key: String) -> (Int, String) {
        let deadline = Date().addingTimeInterval(30)
        var last = (0, "no answer")
        repeat {
            if let response = try? service.request(
                "POST", "/accounts/safe/deposit", body: #"{"amount": 1}"#, key: key)
            {
                last = (response.status, response.body)
                if response.status == 200 { return last }
            }
            usleep(50_000)  // back-off between retries (nothing to await: the answer is the event)
        } while Date() < deadline
        return last
    }
}
