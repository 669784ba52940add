import Foundation
import TestKit
import Testing

@Suite("counter-service over NATS (real nats-server)", .serialized)
struct CounterServiceNATSTests {
    @Test("one process over NATS: API shapes and 20,000 increments from 200 connections")
    func embeddedOverNATS() async throws {
        try await withBlockingAllowed {
            let nats = try NATSServer()
            let service = try CounterServiceProcess(["--transport", "nats", "--nats-url", nats.url])
            #expect(
                try service.request("POST", "/counter/n/increment", body: #"{"amount": 2}"#).body
                    == #"{"counter_id":"n","value":2}"#)
            #expect(try service.request("POST", "/counter/n/increment", body: #"{"amount": 0}"#).status == 422)
            let tally = RawHTTPLoad.run(
                port: service.httpPort, connections: 200, requestsPerConnection: 100,
                request: RawHTTPConnection.requestText("POST", "/counter/load/increment"), timeout: 120)
            #expect(tally.failedConnections == 0)
            #expect(tally.successes == 20_000, "\(tally.statuses)")
            #expect(try service.value("load") == tally.successes)
        }
    }

    @Test("--nats-server auto starts a child nats-server and stops it on SIGTERM")
    func autoServer() async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess(["--nats-server", "auto", "--nodes", "2", "--shards", "8"])
            #expect(try service.request("POST", "/counter/a/increment").status == 200)
            let output = service.child.output
            guard let range = output.range(of: #"msg="NATS ready" pid="#) else {
                Issue.record("no NATS ready line: \(output)")
                return
            }
            let pid = Int32(output[range.upperBound...].prefix { $0.isNumber }) ?? 0
            #expect(pid > 0 && kill(pid, 0) == 0)
            kill(service.child.pid, SIGTERM)
            #expect(ChildProcess.waitUntil(timeout: 15) { !service.child.process.isRunning })
            #expect(service.child.process.terminationStatus == 0)
            #expect(
                ChildProcess.waitUntil(timeout: 5) { kill(pid, 0) != 0 }, "the child nats-server outlived the service")
        }
    }

    @Test("scale-out: nats-server, three node processes and a gateway; counts and routing")
    func multiProcess() async throws {
        try await withBlockingAllowed {
            let nats = try NATSServer()
            let nodeIDs = "node-0,node-1,node-2"
            let common = ["--node-ids", nodeIDs, "--nats-url", nats.url]
            let nodes = try (0..<3).map { index in
                try CounterServiceProcess(["node", "--node-id", "node-\(index)"] + common, http: false)
            }
            let gateway = try CounterServiceProcess(["gateway"] + common)

            // Routing: the gateway's answer matches the reference vectors for three nodes.
            let owners = try RoutingVectors.rows("shard-owners.tsv").filter {
                $0[0] == "counter-cluster" && $0[1] == "64" && $0[2] == nodeIDs
            }
            var ownerOfShard: [Int: String] = [:]
            for row in owners { ownerOfShard[Int(row[3])!] = row[4] }
            let listed = json(try gateway.request("GET", "/cluster/nodes").body)?["nodes"] as? [[String: Any]] ?? []
            for node in listed {
                let id = node["id"] as? String ?? ""
                #expect(node["shards"] as? [Int] == ownerOfShard.filter { $0.value == id }.keys.sorted())
            }

            // One key per node; each node's actors see exactly its key's messages.
            var keyOfNode: [String: String] = [:]
            var candidate = 0
            while keyOfNode.count < 3 && candidate < 200 {
                let key = "k\(candidate)"
                let node = json(try gateway.request("GET", "/cluster/route/\(key)").body)?["node"] as? String ?? ""
                if keyOfNode[node] == nil { keyOfNode[node] = key }
                candidate += 1
            }
            #expect(keyOfNode.count == 3)
            let connection = try RawHTTPConnection(port: gateway.httpPort)
            for (index, id) in ["node-0", "node-1", "node-2"].enumerated() {
                guard let key = keyOfNode[id] else { continue }
                for _ in 0..<(index + 2) {
                    #expect(try connection.request("POST", "/counter/\(key)/increment").status == 200)
                }
            }
            for (index, id) in ["node-0", "node-1", "node-2"].enumerated() {
                guard let key = keyOfNode[id] else { continue }
                #expect(try nodes[index].metric("clstr_actor_messages_total") == index + 2, "\(id)")
                #expect(try gateway.value(key) == index + 2)
            }

            // Counts under concurrency through the gateway.
            let tally = RawHTTPLoad.run(
                port: gateway.httpPort, connections: 100, requestsPerConnection: 50,
                request: RawHTTPConnection.requestText("POST", "/counter/spread/increment"), timeout: 120)
            #expect(tally.failedConnections == 0)
            #expect(tally.successes == 5_000, "\(tally.statuses)")
            #expect(try gateway.value("spread") == tally.successes)

            // A node going away: its shards answer 503 (no responder) quickly, the others keep serving.
            let spreadOwner = json(try gateway.request("GET", "/cluster/route/spread").body)?["node"] as? String ?? ""
            let ownerIndex = Int(spreadOwner.dropFirst(5)) ?? 0
            kill(nodes[ownerIndex].child.pid, SIGTERM)
            #expect(ChildProcess.waitUntil(timeout: 15) { !nodes[ownerIndex].child.process.isRunning })
            let orphan = try gateway.request("POST", "/counter/spread/increment")
            #expect(orphan.status == 503, "\(orphan)")
            #expect(json(orphan.body)?["error"] != nil)
            for (id, key) in keyOfNode where id != spreadOwner {
                #expect(try gateway.request("POST", "/counter/\(key)/increment").status == 200)
            }
        }
    }
}
