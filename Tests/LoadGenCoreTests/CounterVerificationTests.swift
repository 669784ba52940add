import Foundation
import NIOCore
import Synchronization
import Testing

@testable import LoadGenCore

/// `--verify-counter` against real counter servers: a correct one, one that loses and one that double-counts.
@Suite struct CounterVerificationTests {
    enum Fault: Sendable { case none, lose, double }

    /// A counter endpoint: POST …/increment adds `amount` (default 1); GET /counter/x returns the value.
    static func counterServer(fault: Fault) async throws -> TestHTTPServer {
        let value = Atomic<Int>(0)
        let increments = Atomic<Int>(0)
        return try await TestHTTPServer { request in
            if request.method == "GET" {
                return .respond(status: 200, body: "{\"counter_id\":\"x\",\"value\":\(value.load(ordering: .relaxed))}")
            }
            let amount = CounterVerification.integer(forKey: "amount", inJSON: request.body) ?? 1
            let k = increments.wrappingAdd(1, ordering: .relaxed).newValue
            switch fault {
            case .none: value.wrappingAdd(amount, ordering: .relaxed)
            case .lose: if k % 50 != 0 { value.wrappingAdd(amount, ordering: .relaxed) }
            case .double: value.wrappingAdd(k % 50 == 0 ? 2 * amount : amount, ordering: .relaxed)
            }
            return .respond(status: 200, body: "{\"counter_id\":\"x\",\"value\":0}")
        }
    }

    private func run(_ server: TestHTTPServer, body: String?) async throws -> (Int32, String) {
        var o = LoadOptions(url: try TargetURL(server.url("/counter/x/increment")))
        o.method = "POST"
        o.requests = 500
        o.concurrency = 10
        o.cpus = 2
        if let body { o.body = Array(body.utf8) }
        o.verifyCounterURL = try TargetURL(server.url("/counter/x"))
        let sink = OutputSink.memory()
        let code = try await LoadRunner.execute(o, output: sink).exitCode
        return (code, sink.contents)
    }

    @Test func passesWhenEveryIncrementCounts() async throws {
        let server = try await Self.counterServer(fault: .none)
        let (code, text) = try await run(server, body: "{\"amount\": 3}")
        #expect(code == 0)
        #expect(
            text.contains(
                "  PASS:\tbefore 0, after 1500, increase 1500, expected 1500 (500 2xx responses x amount 3)\n"))
        let (again, second) = try await run(server, body: nil)
        #expect(again == 0)
        #expect(second.contains("PASS:\tbefore 1500, after 2000, increase 500, expected 500"))
        try await server.stop()
    }

    @Test(arguments: [Fault.lose, Fault.double])
    func failsWhenTheServerMiscounts(fault: Fault) async throws {
        let server = try await Self.counterServer(fault: fault)
        let (code, text) = try await run(server, body: nil)
        #expect(code == 1)
        #expect(text.contains("  FAIL:\tbefore 0, after \(fault == .lose ? 490 : 510), increase"))
        try await server.stop()
    }

    @Test func amountFromBody() {
        #expect(CounterVerification.amount(inBody: Array("{\"amount\": 7}".utf8)) == 7)
        #expect(CounterVerification.amount(inBody: Array("{\"by\":1,\"amount\":-2}".utf8)) == -2)
        #expect(CounterVerification.amount(inBody: []) == 1)
        #expect(CounterVerification.amount(inBody: Array("{\"amountX\": 7}".utf8)) == 1)
    }

    @Test func failOnErrorsTurnsNon2xxIntoExitCode1() async throws {
        let server = try await TestHTTPServer { _ in .respond(status: 500, body: "") }
        var o = LoadOptions(url: try TargetURL(server.url()))
        o.requests = 10
        o.concurrency = 2
        o.failOnErrors = true
        #expect(try await LoadRunner.execute(o, output: .memory()).exitCode == 1)
        o.failOnErrors = false
        #expect(try await LoadRunner.execute(o, output: .memory()).exitCode == 0)
        try await server.stop()
    }

    @Test func metricsScrapeReportsHeapAndRSS() async throws {
        let scrapes = Atomic<Int>(0)
        let server = try await TestHTTPServer { request in
            if request.target == "/metrics" {
                let k = scrapes.wrappingAdd(1, ordering: .relaxed).oldValue
                return .respond(
                    status: 200,
                    body: """
                        # HELP clstr_heap_allocated_bytes Bytes allocated.
                        # TYPE clstr_heap_allocated_bytes gauge
                        clstr_heap_allocated_bytes \(1000 + k * 500)
                        clstr_heap_resident_bytes{arena="all"} \(4096 + k * 4096)
                        process_resident_memory_bytes 2.5e+07

                        """)
            }
            return .respond(status: 200, body: "ok")
        }
        var o = LoadOptions(url: try TargetURL(server.url()))
        o.requests = 20
        o.concurrency = 2
        o.metricsURL = try TargetURL(server.url("/metrics"))
        o.json = true
        let sink = OutputSink.memory()
        #expect(try await LoadRunner.execute(o, output: sink).exitCode == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(sink.contents.utf8)) as? [String: Any])
        let memory = try #require(object["memory"] as? [String: Any])
        #expect(memory["heap_allocated_before"] as? Int == 1000)
        #expect(memory["heap_allocated_after"] as? Int == 1500)
        #expect(memory["heap_resident_after"] as? Int == 8192)
        #expect(memory["rss_before"] as? Int == 25_000_000)
        let summary = MemoryComparison(
            url: "u", before: .init(heapAllocated: 1000, heapResident: nil, rss: 10),
            after: .init(heapAllocated: 1500, heapResident: nil, rss: 5)
        ).summary
        #expect(
            summary
                == "Target memory (u):\n  heap allocated:\t1000 -> 1500 bytes (+500)\n  heap resident:\tnot exposed\n  RSS:\t10 -> 5 bytes (-5)\n"
        )
        try await server.stop()
    }
}
