import Foundation
import TestKit
import Testing

@Suite("counter-service, embedded (in-memory transport)", .serialized)
struct CounterServiceEmbeddedTests {
    @Test("the spec's API shapes, percent-decoded keys, the index text")
    func apiShapes() async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess([])
            let first = try service.request("POST", "/counter/my-counter/increment")
            #expect(first.status == 200)
            #expect(first.headers["content-type"] == "application/json")
            #expect(first.body == #"{"counter_id":"my-counter","value":1}"#)
            #expect(
                try service.request("POST", "/counter/my-counter/increment", body: #"{"amount": 5}"#).body
                    == #"{"counter_id":"my-counter","value":6}"#)
            #expect(try service.request("GET", "/counter/my-counter").body == #"{"counter_id":"my-counter","value":6}"#)
            #expect(
                try service.request("GET", "/counter/never-touched").body
                    == #"{"counter_id":"never-touched","value":0}"#)

            let key = "café/ü \"q\" 漢"
            let reply = try service.request("POST", "/counter/\(percentEncode(key))/increment", body: #"{"amount": 3}"#)
            #expect(json(reply.body)?["counter_id"] as? String == key)
            #expect(json(reply.body)?["value"] as? Int == 3)

            // A 256-byte ID is the longest accepted; a wrong method gets 405 with the route's methods.
            let longest = String(repeating: "i", count: 256)
            #expect(json(try service.request("POST", "/counter/\(longest)/increment").body)?["value"] as? Int == 1)
            let wrongMethod = try service.request("GET", "/counter/my-counter/increment")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers["allow"] == "POST")
            #expect(try service.request("PUT", "/counter/my-counter").headers["allow"] == "GET")

            let index = try service.request("GET", "/")
            #expect(index.status == 200)
            #expect(index.body.contains("POST /counter/{id}/increment"))
        }
    }

    @Test("routing endpoints agree with the reference vectors (seed counter-cluster, 64 shards, 7 nodes)")
    func routingVectors() async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess([])
            let owners = try RoutingVectors.rows("shard-owners.tsv").filter {
                $0[0] == "counter-cluster" && $0[1] == "64"
                    && $0[2] == "node-0,node-1,node-2,node-3,node-4,node-5,node-6"
            }
            #expect(owners.count == 64)
            var ownerOfShard: [Int: String] = [:]
            for row in owners { ownerOfShard[Int(row[3])!] = row[4] }

            let keys = try RoutingVectors.rows("shard-keys.tsv").filter { $0[0] == "counter-cluster" && $0[1] == "64" }
            #expect(keys.count > 40)
            let connection = try RawHTTPConnection(port: service.httpPort)
            for row in keys {
                let response = try connection.request("GET", "/cluster/route/\(percentEncode(row[2]))")
                let object = json(response.body)
                #expect(object?["key"] as? String == row[2])
                #expect(object?["shard"] as? Int == Int(row[3]), "key \(row[2].debugDescription)")
                #expect(object?["node"] as? String == ownerOfShard[Int(row[3])!])
            }

            let nodes = json(try connection.request("GET", "/cluster/nodes").body)?["nodes"] as? [[String: Any]] ?? []
            #expect(nodes.count == 7)
            for node in nodes {
                let id = node["id"] as? String ?? ""
                let shards = node["shards"] as? [Int] ?? []
                #expect(shards == ownerOfShard.filter { $0.value == id }.keys.sorted(), "\(id)")
            }
            #expect((nodes.first { $0["id"] as? String == "node-0" }?["shards"] as? [Int])?.count == 10)
            #expect((nodes.first { $0["id"] as? String == "node-1" }?["shards"] as? [Int])?.count == 14)
        }
    }

    /// One row of the bad-input table.
    struct BadInput: Sendable, CustomStringConvertible {
        var name: String
        var raw: String
        var status: Int
        var closes: Bool = false
        var description: String { name }
    }

    static let badInputs: [BadInput] = [
        BadInput(name: "invalid JSON", raw: post("/counter/victim/increment", #"{"amount": }"#), status: 400),
        BadInput(
            name: "JSON with trailing garbage", raw: post("/counter/victim/increment", #"{"amount": 1} x"#), status: 400
        ),
        BadInput(name: "amount as string", raw: post("/counter/victim/increment", #"{"amount": "5"}"#), status: 422),
        BadInput(name: "fractional amount", raw: post("/counter/victim/increment", #"{"amount": 1.5}"#), status: 422),
        BadInput(name: "zero amount", raw: post("/counter/victim/increment", #"{"amount": 0}"#), status: 422),
        BadInput(name: "negative amount", raw: post("/counter/victim/increment", #"{"amount": -4}"#), status: 422),
        BadInput(
            name: "amount above Int.max", raw: post("/counter/victim/increment", #"{"amount": 9223372036854775808}"#),
            status: 422),
        BadInput(name: "body not an object", raw: post("/counter/victim/increment", "[1]"), status: 422),
        BadInput(name: "empty id", raw: post("/counter//increment", nil), status: 400),
        BadInput(
            name: "over-long id", raw: post("/counter/\(String(repeating: "v", count: 257))/increment", nil),
            status: 400),
        BadInput(
            name: "over-long escaped id", raw: post("/counter/\(String(repeating: "%61", count: 257))/increment", nil),
            status: 400),
        BadInput(name: "invalid percent-encoding", raw: post("/counter/vic%ZZtim/increment", nil), status: 400),
        BadInput(name: "invalid UTF-8 in id", raw: post("/counter/%C3%28/increment", nil), status: 400),
        BadInput(
            name: "body over the limit", raw: post("/counter/victim/increment", String(repeating: " ", count: 16_385)),
            status: 413, closes: true),
        BadInput(name: "unknown route", raw: "GET /nothing/here HTTP/1.1\r\nHost: x\r\n\r\n", status: 404),
        BadInput(
            name: "GET on increment", raw: "GET /counter/victim/increment HTTP/1.1\r\nHost: x\r\n\r\n", status: 405),
        BadInput(name: "DELETE on a counter", raw: "DELETE /counter/victim HTTP/1.1\r\nHost: x\r\n\r\n", status: 405),
        BadInput(
            name: "malformed request line", raw: "POST  /counter/victim/increment HTTP/1.1\r\n\r\n", status: 400,
            closes: true),
        BadInput(
            name: "malformed header", raw: "POST /counter/victim/increment HTTP/1.1\r\nNo colon\r\n\r\n", status: 400,
            closes: true),
        BadInput(
            name: "header section over the limit",
            raw: "POST /counter/victim/increment HTTP/1.1\r\nX-Big: \(String(repeating: "b", count: 9_000))\r\n\r\n",
            status: 431, closes: true),
        BadInput(
            name: "malformed chunk",
            raw: "POST /counter/victim/increment HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n",
            status: 400, closes: true),
        BadInput(
            name: "chunked with Content-Length",
            raw:
                "POST /counter/victim/increment HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}",
            status: 400, closes: true),
        BadInput(
            name: "unknown transfer coding",
            raw: "POST /counter/victim/increment HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            status: 501, closes: true),
        BadInput(
            name: "chunked body over the limit",
            raw: "POST /counter/victim/increment HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4001\r\n",
            status: 413, closes: true),
    ]

    static func post(_ path: String, _ body: String?) -> String {
        RawHTTPConnection.requestText("POST", path, body: body)
    }

    @Test("bad input: status, JSON error body, counter unchanged, server still serving", arguments: ["epoll", "nio"])
    func badInputTable(engine: String) async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess(["--http-engine", engine])
            #expect(try service.request("POST", "/counter/victim/increment", body: #"{"amount": 41}"#).status == 200)
            let bystander = try RawHTTPConnection(port: service.httpPort)
            for input in Self.badInputs {
                let connection = try RawHTTPConnection(port: service.httpPort)
                try connection.send(input.raw)
                let response = try connection.readResponse()
                #expect(response.status == input.status, "\(input.name)")
                #expect(response.headers["content-type"] == "application/json", "\(input.name)")
                #expect((json(response.body)?["error"] as? String)?.isEmpty == false, "\(input.name): \(response.body)")
                if input.closes {
                    #expect(connection.readsEndOfStream(), "\(input.name) should close the connection")
                }
                #expect(try service.value("victim") == 41, "\(input.name) changed the counter")
                #expect(
                    try bystander.request("GET", "/counter/victim").status == 200,
                    "\(input.name): server stopped serving")
            }
            // A chunked body is decoded (RFC 9112 §7.1): the amount split over two chunks is applied.
            let chunked = try RawHTTPConnection(port: service.httpPort)
            try chunked.send(
                "POST /counter/victim/increment HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "7\r\n{\"amoun\r\n5;x=y\r\nt\": 1\r\n1\r\n}\r\n0\r\n\r\n")
            #expect(try chunked.readResponse().status == 200)
            #expect(try service.value("victim") == 42)
            // A resulting value that would overflow is refused and leaves the counter unchanged.
            #expect(
                try service.request("POST", "/counter/big/increment", body: #"{"amount": 9223372036854775806}"#).status
                    == 200)
            #expect(try service.request("POST", "/counter/big/increment").status == 200)
            let overflow = try service.request("POST", "/counter/big/increment")
            #expect(overflow.status == 409)
            #expect(json(overflow.body)?["error"] as? String == "counter value would overflow")
            #expect(try service.value("big") == Int.max)
        }
    }

    @Test(
        "20,000 increments from 200 connections: the final value equals the 2xx count", arguments: ["epoll", "nio"])
    func concurrentIncrements(engine: String) async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess(["--http-engine", engine])
            let tally = RawHTTPLoad.run(
                port: service.httpPort, connections: 200, requestsPerConnection: 100,
                request: RawHTTPConnection.requestText("POST", "/counter/load/increment"), timeout: 120)
            #expect(tally.failedConnections == 0)
            #expect(tally.successes == 20_000, "\(tally.statuses)")
            #expect(try service.value("load") == tally.successes)
            let metrics = try service.metrics()
            #expect(metrics.contains(#"clstr_http_requests_total{route="increment",status="200"} 20000"#))
            #expect(try service.metric("clstr_actor_messages_total") ?? 0 >= 20_000)
            #expect(try service.metric("clstr_heap_allocated_bytes") ?? 0 > 0)
            #expect(try service.metric("process_resident_memory_bytes") ?? 0 > 0)
            #expect(metrics.contains(#"clstr_cluster_shards_owned{node_id="node-1"} 14"#))
            #expect(metrics.contains(#"clstr_cluster_requests_total{message_type="increment",outcome="ok"}"#))
            #expect(!metrics.contains("load\""), "no per-key label values")
        }
    }

    @Test("clients that reset their connections mid-answer do not take the process down (no SIGPIPE)")
    func resetClients() async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess([])
            let burst = String(repeating: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", count: 2_000)
            for _ in 0..<10 {
                let client = try RawHTTPConnection(port: service.httpPort, timeout: 1)
                try? client.send(burst)
                client.resetAndClose()
            }
            // Every reset connection handled (its writes met the reset) before checking the process.
            #expect(
                ChildProcess.waitUntil(timeout: 10) { (try? service.metric("clstr_http_connections_open")) == 0 })
            #expect(service.child.process.isRunning)
            #expect(try service.request("GET", "/counter/after-resets").status == 200)
        }
    }

    @Test("SIGTERM shuts down gracefully; the log has the spec's shape")
    func gracefulShutdown() async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess(["--nodes", "3", "--shards", "16"])
            #expect(service.child.output.contains(#"level=INFO msg="starting node" nodeID=node-0 shardCount="#))
            #expect(service.child.output.contains(#"level=INFO msg="HTTP server starting" port=\#(service.httpPort)"#))
            #expect(try service.request("POST", "/counter/x/increment").status == 200)
            kill(service.child.pid, SIGTERM)
            #expect(ChildProcess.waitUntil(timeout: 15) { !service.child.process.isRunning })
            #expect(service.child.process.terminationStatus == 0)
            #expect(service.child.output.contains("msg=stopped"))
            #expect(!FreePort.isListening(service.httpPort))
        }
    }

    @Test(
        "bad options are refused with a clear message",
        arguments: [
            (["--shards", "0"], "--shards must be between"),
            (["--transport", "carrier-pigeon"], "transport"),
            (["--nats-server", "manual", "--transport", "nats"], "--nats-server accepts only 'auto'"),
            (["--nats-url", "nats://127.0.0.1:1", "--transport", "memory"], "need --transport nats"),
            (["--http-port", "70000"], "--http-port must be between 0 and 65535"),
            (["--log-level", "loud"], "--log-level must be one of"),
            (["--http-engine", "carrier-pigeon"], "http-engine"),
            (["node", "--node-id", "node-9", "--nodes", "3"], "is not one of the cluster's nodes"),
            (["--node-ids", "a,,b"], "--node-ids must be"),
        ])
    func badOptions(arguments: [String], message: String) async throws {
        try await withBlockingAllowed {
            let child = try ChildProcess(executable: try CounterServiceProcess.executable(), arguments: arguments)
            #expect(ChildProcess.waitUntil(timeout: 20) { !child.process.isRunning })
            #expect(child.process.terminationStatus != 0)
            #expect(child.output.contains(message), "\(child.output)")
        }
    }
}
