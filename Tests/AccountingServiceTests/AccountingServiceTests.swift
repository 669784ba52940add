import Foundation
import Synchronization
import TestKit
import Testing

/// The options of a store: JetStream runs everything over a nats-server child with JetStream.
func storeArguments(_ store: String) -> [String] {
    switch store {
    case "sqlite": []
    case "jetstream": ["--store", "jetstream", "--transport", "nats", "--nats-server", "auto"]
    default: ["--store", store]
    }
}

@Suite("accounting: the demo, the HTTP API, durability", .serialized)
struct AccountingServiceTests {
    @Test(
        "the demo reproduces the spec's sample and rebuilds every balance from the store",
        arguments: ["sqlite", "memory", "jetstream"])
    func demo(store: String) async throws {
        try await withBlockingAllowed {
            let child = try ChildProcess(
                executable: try AccountingProcess.executable(), arguments: storeArguments(store))
            #expect(ChildProcess.waitUntil(timeout: 30) { !child.process.isRunning })
            #expect(child.process.terminationStatus == 0)
            let lines = child.output.split(separator: "\n").map(String.init)
            func line(_ message: String, _ fields: [String]) -> Bool {
                lines.contains { line in line.contains(message) && fields.allSatisfy { line.contains($0) } }
            }
            #expect(line("starting node", ["nodeID=node-0", "shardCount=20"]))
            #expect(line("starting node", ["nodeID=node-1", "shardCount=20"]))
            #expect(line("starting node", ["nodeID=node-2", "shardCount=24"]))
            #expect(line("=== Demo: Event-Sourced Bank Accounts ===", []))
            for (account, node, balance) in [
                ("alice", "node-1", 150), ("bob", "node-2", 70), ("charlie", "node-0", 300),
            ] {
                #expect(line("opened account", ["account=\(account) ", "balance=100", "node=\(node)"]))
                #expect(line("get balance", ["account=\(account) ", "balance=\(balance) ", "node=\(node)"]))
                #expect(
                    line(
                        "rebuilt from events",
                        [
                            "account=\(account) ", "balance=\(balance) ", "events_replayed=2", "node=\(node)",
                            "version=2",
                        ]))
            }
            #expect(line("msg=deposited", ["account=alice", "amount=50", "balance=150"]))
            #expect(line("msg=withdrew", ["account=bob", "amount=30", "balance=70"]))
            #expect(line("msg=deposited", ["account=charlie", "amount=200", "balance=300"]))
            #expect(line("demo complete", []))
            if store == "sqlite" { #expect(line("event store opened", ["store=sqlite", "events.sqlite"])) }
        }
    }

    /// One row of the route table: a request and what it must answer.
    struct Case: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        var body: String?
        var status: Int
        var expect: [String: String] = [:]
        var description: String { "\(method) \(path) \(body ?? "") → \(status)" }
    }

    @Test("every route and error over a real socket; no rejected request changes a balance")
    func routes() async throws {
        try await withBlockingAllowed {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let service = try AccountingProcess(["--data-dir", directory])
            let cases: [Case] = [
                Case(
                    method: "POST", path: "/accounts/alice", body: #"{"initial": 100}"#, status: 201,
                    expect: ["account_id": "alice", "balance": "100", "version": "1"]),
                Case(
                    method: "POST", path: "/accounts/alice", body: #"{"initial": 5}"#, status: 409,
                    expect: ["code": "account_exists"]),
                Case(method: "POST", path: "/accounts/bob", body: nil, status: 201, expect: ["balance": "0"]),
                Case(
                    method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": 50}"#, status: 200,
                    expect: ["balance": "150", "version": "2"]),
                Case(
                    method: "POST", path: "/accounts/alice/withdraw", body: #"{"amount": 30}"#, status: 200,
                    expect: ["balance": "120"]),
                Case(
                    method: "POST", path: "/accounts/alice/withdraw", body: #"{"amount": 121}"#, status: 409,
                    expect: ["error": "insufficient funds", "balance": "120"]),
                Case(
                    method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": 0}"#, status: 422,
                    expect: ["code": "invalid_amount"]),
                Case(method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": -3}"#, status: 422),
                Case(method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": 1.5}"#, status: 422),
                Case(method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": "7"}"#, status: 422),
                Case(
                    method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": 9223372036854775808}"#,
                    status: 422),
                Case(
                    method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": 9223372036854775807}"#,
                    status: 409,
                    expect: ["code": "balance_overflow"]),
                Case(method: "POST", path: "/accounts/alice/deposit", body: "", status: 422),
                Case(
                    method: "POST", path: "/accounts/alice/deposit", body: #"{"amount": }"#, status: 400,
                    expect: ["code": "invalid_json"]),
                Case(method: "POST", path: "/accounts/alice/deposit", body: "[1]", status: 422),
                Case(method: "POST", path: "/accounts/al%2Fice/deposit", body: #"{"amount": 1}"#, status: 400),
                Case(method: "POST", path: "/accounts/" + String(repeating: "x", count: 129), body: nil, status: 400),
                Case(
                    method: "POST", path: "/accounts/nobody/deposit", body: #"{"amount": 1}"#, status: 404,
                    expect: ["code": "account_not_found"]),
                Case(method: "GET", path: "/accounts/nobody", status: 404),
                Case(method: "GET", path: "/accounts/alice", status: 200, expect: ["balance": "120", "version": "3"]),
                Case(method: "DELETE", path: "/accounts/alice", status: 405),
                Case(method: "GET", path: "/accounts/alice/deposit", status: 405),
                Case(method: "GET", path: "/nowhere", status: 404),
                Case(
                    method: "POST", path: "/transfers", body: #"{"from":"alice","to":"bob","amount":20}"#, status: 200,
                    expect: ["status": "completed", "from_balance": "100", "to_balance": "20"]),
                Case(
                    method: "POST", path: "/transfers", body: #"{"from":"alice","to":"bob","amount":101}"#, status: 409,
                    expect: ["error": "insufficient funds", "balance": "100"]),
                Case(method: "POST", path: "/transfers", body: #"{"from":"alice","to":"zed","amount":1}"#, status: 404),
                Case(method: "POST", path: "/transfers", body: #"{"from":"zed","to":"alice","amount":1}"#, status: 404),
                Case(
                    method: "POST", path: "/transfers", body: #"{"from":"alice","to":"alice","amount":1}"#, status: 422),
                Case(method: "POST", path: "/transfers", body: #"{"from":"alice","to":"bob","amount":0}"#, status: 422),
                Case(method: "POST", path: "/transfers", body: #"{"from":"alice","to":"bob"#, status: 400),
                Case(method: "GET", path: "/accounts/alice", status: 200, expect: ["balance": "100"]),
                Case(method: "GET", path: "/accounts/bob", status: 200, expect: ["balance": "20"]),
            ]
            for item in cases {
                let response = try service.request(item.method, item.path, body: item.body)
                #expect(response.status == item.status, "\(item): \(response.body)")
                #expect(response.headers["content-type"] == "application/json", "\(item)")
                let object = json(response.body)
                #expect(object != nil, "\(item): \(response.body)")
                for (field, value) in item.expect {
                    #expect(object.map { "\($0[field] ?? "missing")" } == value, "\(item): \(response.body)")
                }
                if item.status >= 400 { #expect(object?["error"] is String, "\(item)") }
            }
            // 413: a body over the front's limit.
            let big = try service.request(
                "POST", "/accounts/alice/deposit",
                body: #"{"amount": 1, "pad": ""# + String(repeating: "x", count: 20_000) + #""}"#)
            #expect(big.status == 413)
            #expect(try service.balance("alice") == 100)

            let events = json(try service.request("GET", "/accounts/alice/events?from=2&limit=2").body)
            let list = events?["events"] as? [[String: Any]] ?? []
            #expect(list.count == 2)
            #expect(list.first?["type"] as? String == "MoneyDeposited")
            #expect(list.first?["version"] as? Int == 2)
            #expect((list.first?["data"] as? [String: Any])?["amount"] as? Int == 50)
            #expect(list.first?["position"] is Int)
            #expect((list.first?["occurred_at"] as? String)?.hasSuffix("Z") == true)
            #expect(list.last?["type"] as? String == "MoneyWithdrawn")
            #expect(try service.request("GET", "/accounts/alice/events?limit=0").status == 400)

            // The projection catches up (waited for, not slept for).
            var stats: [String: Any]?
            #expect(
                ChildProcess.waitUntil(timeout: 10) {
                    stats = json((try? service.request("GET", "/stats").body) ?? "")
                    return stats?["lag"] as? Int == 0 && stats?["total_balance"] as? Int == 120
                })
            #expect(stats?["accounts"] as? Int == 2)
            #expect(try service.request("GET", "/", body: nil).status == 200)
        }
    }

    @Test("Idempotency-Key: a retry returns the first answer and appends nothing, also after a restart")
    func idempotentRetries() async throws {
        try await withBlockingAllowed {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var service: AccountingProcess? = try AccountingProcess(["--data-dir", directory])
            let open = try service!.request("POST", "/accounts/carol", body: #"{"initial": 10}"#, key: "open-1")
            #expect(open.status == 201)
            #expect(
                try service!.request("POST", "/accounts/carol", body: #"{"initial": 10}"#, key: "open-1").body
                    == open.body)
            let first = try service!.request("POST", "/accounts/carol/deposit", body: #"{"amount": 5}"#, key: "dep-1")
            #expect(first.body == #"{"account_id":"carol","balance":15,"version":2}"#)
            _ = try service!.request("POST", "/accounts/carol/deposit", body: #"{"amount": 1}"#)
            let retry = try service!.request("POST", "/accounts/carol/deposit", body: #"{"amount": 5}"#, key: "dep-1")
            #expect(retry.status == 200)
            #expect(retry.body == first.body)
            let transfer = try service!.request(
                "POST", "/transfers", body: #"{"from":"carol","to":"carol2","amount":1}"#, key: "tx-0")
            #expect(transfer.status == 404)
            _ = try service!.request("POST", "/accounts/dave")
            let moved = try service!.request(
                "POST", "/transfers", body: #"{"from":"carol","to":"dave","amount":4}"#, key: "tx-1")
            #expect(moved.status == 200)
            #expect(
                try service!.request(
                    "POST", "/transfers", body: #"{"from":"carol","to":"dave","amount":4}"#, key: "tx-1"
                ).body
                    == moved.body)
            #expect(try service!.balance("carol") == 12)
            #expect(try service!.balance("dave") == 4)
            #expect(
                try service!.request(
                    "POST", "/accounts/carol/deposit", body: "{}", key: String(repeating: "k", count: 201)
                ).status == 400)

            // Restart on the same data directory: the keys come back with the events.
            let port = service!.httpPort
            service = nil
            service = try AccountingProcess(["--data-dir", directory], httpPort: port)
            let afterRestart = try service!.request(
                "POST", "/accounts/carol/deposit", body: #"{"amount": 5}"#, key: "dep-1")
            #expect(afterRestart.body == first.body)
            #expect(
                try service!.request(
                    "POST", "/transfers", body: #"{"from":"carol","to":"dave","amount":4}"#, key: "tx-1"
                ).status == 200)
            #expect(try service!.balance("carol") == 12)
            #expect(try service!.balance("dave") == 4)
            let events = json(try service!.request("GET", "/accounts/carol/events").body)?["events"] as? [[String: Any]]
            #expect(events?.count == 4)
        }
    }

    @Test(
        "a retry whose Idempotency-Key left the in-memory window is found in the store: first answer, nothing appended",
        arguments: ["memory", "sqlite", "jetstream"])
    func retryAfterEviction(store: String) async throws {
        try await withBlockingAllowed {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // A window of 2 keys and a snapshot every 3 events: key d-1 is evicted from memory and, after the
            // restart, also from the snapshot the account loads from.
            let arguments =
                storeArguments(store) + [
                    "--data-dir", directory, "--idempotency-window", "2", "--snapshot-every", "3",
                ]
            var service: AccountingProcess? = try AccountingProcess(arguments)
            #expect(try service!.request("POST", "/accounts/erin", key: "open-erin").status == 201)
            let first = try service!.request("POST", "/accounts/erin/deposit", body: #"{"amount": 7}"#, key: "d-1")
            #expect(first.body == #"{"account_id":"erin","balance":7,"version":2}"#)
            for k in 2...6 {
                #expect(
                    try service!.request("POST", "/accounts/erin/deposit", body: #"{"amount": 1}"#, key: "d-\(k)")
                        .status == 200)
            }
            func eventCount() throws -> Int? {
                (json(try service!.request("GET", "/accounts/erin/events").body)?["events"] as? [[String: Any]])?.count
            }
            for _ in 0..<2 {
                let retry = try service!.request("POST", "/accounts/erin/deposit", body: #"{"amount": 7}"#, key: "d-1")
                #expect(retry.status == 200)
                #expect(retry.body == first.body)
            }
            // An evicted key and a remembered one, then a new one: only the new one appends.
            #expect(
                try service!.request("POST", "/accounts/erin/deposit", body: #"{"amount": 1}"#, key: "d-3").body
                    == #"{"account_id":"erin","balance":9,"version":4}"#)
            #expect(try eventCount() == 7)
            #expect(try service!.balance("erin") == 12)
            #expect(
                try service!.request("POST", "/accounts/erin/deposit", body: #"{"amount": 1}"#, key: "d-7").body
                    == #"{"account_id":"erin","balance":13,"version":8}"#)
            if store == "sqlite" {
                let port = service!.httpPort
                service = nil
                service = try AccountingProcess(arguments, httpPort: port)
                let retry = try service!.request("POST", "/accounts/erin/deposit", body: #"{"amount": 7}"#, key: "d-1")
                #expect(retry.body == first.body)
                #expect(try eventCount() == 8)
                #expect(try service!.balance("erin") == 13)
            }
        }
    }

    @Test(
        "concurrent transfers between random pairs keep the sum of the balances",
        arguments: ["sqlite", "memory", "jetstream"])
    func concurrentTransfers(store: String) async throws {
        try await withBlockingAllowed {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let service = try AccountingProcess(["--data-dir", directory] + storeArguments(store))
            let accounts = (0..<8).map { "acct-\($0)" }
            for account in accounts {
                #expect(try service.request("POST", "/accounts/\(account)", body: #"{"initial": 1000}"#).status == 201)
            }
            let statuses = Mutex<[Int: Int]>([:])
            DispatchQueue.concurrentPerform(iterations: 16) { worker in
                var generator = SystemRandomNumberGenerator()
                guard let connection = try? RawHTTPConnection(port: service.httpPort) else { return }
                defer { connection.close() }
                for _ in 0..<40 {
                    let from = accounts.randomElement(using: &generator)!
                    var to = accounts.randomElement(using: &generator)!
                    while to == from { to = accounts.randomElement(using: &generator)! }
                    let amount = Int.random(in: 1...400, using: &generator)
                    let body = #"{"from":"\#(from)","to":"\#(to)","amount":\#(amount)}"#
                    guard (try? connection.send(requestText("POST", "/transfers", body: body))) != nil,
                        let response = try? connection.readResponse()
                    else { return }
                    statuses.withLock { $0[response.status, default: 0] += 1 }
                }
            }
            let seen = statuses.withLock { $0 }
            #expect(seen.values.reduce(0, +) == 16 * 40)
            #expect(Set(seen.keys).isSubset(of: [200, 409]), "\(seen)")
            #expect((seen[200] ?? 0) > 0)
            var sum = 0
            for account in accounts {
                let balance = try #require(try service.balance(account))
                #expect(balance >= 0)
                sum += balance
            }
            #expect(sum == 8 * 1000)
            #expect(
                ChildProcess.waitUntil(timeout: 10) {
                    let stats = json((try? service.request("GET", "/stats").body) ?? "")
                    return stats?["lag"] as? Int == 0 && stats?["total_balance"] as? Int == 8000
                })
        }
    }

    @Test(
        "kill -9 during deposits: every 2xx deposit survives; retrying the unanswered ones with their keys makes the total exact"
    )
    func crashDurability() async throws {
        try await withBlockingAllowed {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var service: AccountingProcess? = try AccountingProcess(["--data-dir", directory])
            let port = service!.httpPort
            #expect(try service!.request("POST", "/accounts/vault").status == 201)

            // Workers deposit 1 each with a unique key until the process dies; each key ends answered or unknown.
            let answered = Mutex<Set<String>>([])
            let unknown = Mutex<Set<String>>([])
            let successes = Atomic<Int>(0)
            let group = DispatchGroup()
            for worker in 0..<8 {
                DispatchQueue.global().async(group: group) {
                    guard let connection = try? RawHTTPConnection(port: port, timeout: 5) else { return }
                    defer { connection.close() }
                    for index in 0..<100_000 {
                        let key = "w\(worker)-\(index)"
                        let sent =
                            (try? connection.send(
                                requestText("POST", "/accounts/vault/deposit", body: #"{"amount": 1}"#, key: key)))
                            != nil
                        guard sent, let response = try? connection.readResponse() else {
                            unknown.withLock { _ = $0.insert(key) }
                            return
                        }
                        if (200..<300).contains(response.status) {
                            answered.withLock { _ = $0.insert(key) }
                            successes.add(1, ordering: .relaxed)
                        } else {
                            unknown.withLock { _ = $0.insert(key) }
                        }
                    }
                }
            }
            #expect(ChildProcess.waitUntil(timeout: 30) { successes.load(ordering: .relaxed) >= 300 })
            service!.child.stop(signal: SIGKILL)
            group.wait()
            service = nil

            service = try AccountingProcess(["--data-dir", directory], httpPort: port)
            let acknowledged = answered.withLock { $0 }
            #expect(acknowledged.count >= 300)
            let balanceAfterCrash = try #require(try service!.balance("vault"))
            #expect(balanceAfterCrash >= acknowledged.count, "an acknowledged deposit was lost")
            let retries = unknown.withLock { $0 }
            for key in retries {
                let response = try service!.request(
                    "POST", "/accounts/vault/deposit", body: #"{"amount": 1}"#, key: key)
                #expect(response.status == 200)
            }
            #expect(try service!.balance("vault") == acknowledged.count + retries.count)
        }
    }

    @Test(
        "kill -9 during transfers: after the restart the process manager completes the interrupted ones; the sum holds")
    func interruptedTransfers() async throws {
        try await withBlockingAllowed {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var service: AccountingProcess? = try AccountingProcess(["--data-dir", directory])
            let port = service!.httpPort
            let accounts = (0..<6).map { "pm-\($0)" }
            for account in accounts {
                #expect(try service!.request("POST", "/accounts/\(account)", body: #"{"initial": 500}"#).status == 201)
            }
            let completed = Atomic<Int>(0)
            let group = DispatchGroup()
            for _ in 0..<12 {
                DispatchQueue.global().async(group: group) {
                    guard let connection = try? RawHTTPConnection(port: port, timeout: 5) else { return }
                    defer { connection.close() }
                    var generator = SystemRandomNumberGenerator()
                    for _ in 0..<100_000 {
                        let from = accounts.randomElement(using: &generator)!
                        var to = accounts.randomElement(using: &generator)!
                        while to == from { to = accounts.randomElement(using: &generator)! }
                        let body = #"{"from":"\#(from)","to":"\#(to)","amount":\#(Int.random(in: 1...50))}"#
                        guard (try? connection.send(requestText("POST", "/transfers", body: body))) != nil,
                            (try? connection.readResponse()) != nil
                        else { return }
                        completed.add(1, ordering: .relaxed)
                    }
                }
            }
            #expect(ChildProcess.waitUntil(timeout: 30) { completed.load(ordering: .relaxed) >= 200 })
            service!.child.stop(signal: SIGKILL)
            group.wait()
            service = nil

            service = try AccountingProcess(["--data-dir", directory], httpPort: port)
            var sum = 0
            let balanced = ChildProcess.waitUntil(timeout: 20) {
                sum = accounts.reduce(0) { $0 + ((try? service!.balance($1)) ?? 0) }
                return sum == 6 * 500
            }
            #expect(balanced, "sum \(sum) after the restart: \(service!.child.output)")
            #expect(
                ChildProcess.waitUntil(timeout: 10) {
                    let stats = json((try? service!.request("GET", "/stats").body) ?? "")
                    return stats?["lag"] as? Int == 0 && stats?["total_balance"] as? Int == 6 * 500
                })
        }
    }

    @Test("loadgen --verify URL --field balance: deposits under load, the balance grows by 2xx × amount")
    func loadgenVerifiesTheBalance() async throws {
        try await withBlockingAllowed {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let service = try AccountingProcess(["--data-dir", directory])
            #expect(try service.request("POST", "/accounts/hot").status == 201)
            let base = "http://127.0.0.1:\(service.httpPort)"
            let loadgen = try ChildProcess(
                executable: try BuiltExecutable.path("loadgen"),
                arguments: [
                    "-n", "600", "-c", "20", "-m", "POST", "-d", #"{"amount": 3}"#, "--no-progress", "--fail-on-errors",
                    "--verify", "\(base)/accounts/hot", "--field", "balance", "\(base)/accounts/hot/deposit",
                ])
            #expect(ChildProcess.waitUntil(timeout: 60) { !loadgen.process.isRunning })
            #expect(loadgen.process.terminationStatus == 0, "\(loadgen.output)")
            #expect(loadgen.output.contains("PASS:\tbefore 0, after 1800, increase 1800"), "\(loadgen.output)")
            #expect(try service.balance("hot") == 1800)
        }
    }
}
