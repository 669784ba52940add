import Foundation
import NIOCore
import Synchronization
import TestKit
import Testing

@testable import LoadGenCore

/// The engine against real sockets: a small NIO server of the test's own on 127.0.0.1.
@Suite struct LoadEngineTests {
    private func options(_ url: String, n: Int = 200, c: Int = 10, engine: LoadOptions.Engine) throws -> LoadOptions {
        var o = LoadOptions(url: try TargetURL(url))
        o.engine = engine
        o.requests = n
        o.concurrency = c
        o.cpus = 2
        return o
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func sendsExactlyNAndCountsStatuses(engine: LoadOptions.Engine) async throws {
        let server = try await TestHTTPServer { request in
            request.target == "/missing" ? .respond(status: 404, body: "no") : .respond(status: 200, body: "hello")
        }
        // 25 over 10 connections: hey would send 20 (drops the remainder); loadgen sends 25.
        let report = try await LoadEngine(options: try options(server.url("/"), n: 25, c: 10, engine: engine)).run()
        #expect(report.statistics.responses == 25)
        #expect(server.handled == 25)
        #expect(report.statistics.statusDistribution.map(\.status) == [200])
        #expect(report.statistics.bodyBytes == 125)
        let notFound = try await LoadEngine(options: try options(server.url("/missing"), n: 10, c: 2, engine: engine))
            .run()
        #expect(notFound.statistics.non2xx == 10)
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func chunkedResponses(engine: LoadOptions.Engine) async throws {
        let server = try await TestHTTPServer { _ in .respond(status: 200, body: "chunky", chunked: true) }
        let report = try await LoadEngine(options: try options(server.url(), n: 50, c: 5, engine: engine)).run()
        #expect(report.statistics.responses == 50 && report.statistics.errors == 0)
        #expect(report.statistics.bodyBytes == 300)
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func requestBytesAreHeyLike(engine: LoadOptions.Engine) async throws {
        let seen = Mutex<[TestHTTPServer.Request]>([])
        let server = try await TestHTTPServer { request in
            seen.withLock { $0.append(request) }
            return .respond(status: 200, body: "")
        }
        var o = try options(server.url("/p?q=1"), n: 1, c: 1, engine: engine)
        o.method = "POST"
        o.body = Array("{\"amount\": 2}".utf8)
        o.basicAuth = ("user", "secret")
        o.headers = [("Host", "example.test"), ("X-Trace", "a"), ("x-trace", "b")]
        o.accept = "application/json"
        _ = try await LoadEngine(options: o).run()
        let request = try #require(seen.withLock { $0.first })
        #expect(request.method == "POST" && request.target == "/p?q=1")
        #expect(request.header("Host") == "example.test")  // hey ignores -H Host
        #expect(request.header("Authorization") == "Basic dXNlcjpzZWNyZXQ=")  // hey never sends -a
        #expect(request.header("Content-Type") == "text/html")
        #expect(request.header("Accept") == "application/json")
        #expect(request.header("Accept-Encoding") == "gzip")
        #expect(request.header("Content-Length") == "13")
        #expect(request.headers.filter { $0.0.lowercased() == "x-trace" }.map(\.1) == ["b"])
        #expect(String(decoding: request.body, as: UTF8.self) == "{\"amount\": 2}")
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func placeholdersVaryTheKey(engine: LoadOptions.Engine) async throws {
        let seen = Mutex<[String]>([])
        let server = try await TestHTTPServer { request in
            seen.withLock { $0.append(request.target) }
            return .respond(status: 200, body: "")
        }
        _ = try await LoadEngine(options: try options(server.url("/c/{n}/r{rand:5}"), n: 300, c: 6, engine: engine))
            .run()
        let targets = seen.withLock { $0 }
        #expect(targets.count == 300)
        let sequence = Set(targets.map { $0.split(separator: "/")[1] })
        #expect(sequence == Set((0..<300).map { Substring(String($0)) }))
        let randoms = Set(targets.map { $0.split(separator: "/")[2] })
        #expect(randoms == Set(["r0", "r1", "r2", "r3", "r4"]))
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func bodyPlaceholdersVaryTheBodyAndItsLength(engine: LoadOptions.Engine) async throws {
        let seen = Mutex<[TestHTTPServer.Request]>([])
        let server = try await TestHTTPServer { request in
            seen.withLock { $0.append(request) }
            return .respond(status: 200, body: "")
        }
        var o = try options(server.url("/transfers"), n: 400, c: 8, engine: engine)
        o.method = "POST"
        o.body = Array(#"{"from":"a{rand:1000}","to":"a{rand:3}","seq":{n}}"#.utf8)
        _ = try await LoadEngine(options: o).run()
        let requests = seen.withLock { $0 }
        #expect(requests.count == 400)
        var froms = Set<Int>()
        var tos = Set<Int>()
        var sequences = Set<Int>()
        for request in requests {
            let body = String(decoding: request.body, as: UTF8.self)
            #expect(request.header("Content-Length") == String(request.body.count))
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any], "\(body)")
            let from = try #require(Int((object["from"] as? String ?? "").dropFirst()))
            let to = try #require(Int((object["to"] as? String ?? "").dropFirst()))
            froms.insert(from)
            tos.insert(to)
            sequences.insert(try #require(object["seq"] as? Int))
        }
        #expect(froms.allSatisfy { (0..<1000).contains($0) } && froms.count > 200)
        #expect(tos == [0, 1, 2])
        #expect(sequences == Set(0..<400))
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func refusedConnectionsAreCountedNotFatal(engine: LoadOptions.Engine) async throws {
        let port = TestKitPort.unused()
        let report = try await LoadEngine(
            options: try options("http://127.0.0.1:\(port)/", n: 10, c: 2, engine: engine)
        ).run()
        #expect(report.statistics.errors == 10 && report.statistics.responses == 0)
        #expect(
            report.statistics.errorCounts == [
                "Get \"http://127.0.0.1:\(port)/\": dial tcp 127.0.0.1:\(port): connect: connection refused": 10
            ])
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func timeoutsAndMalformedResponses(engine: LoadOptions.Engine) async throws {
        let server = try await TestHTTPServer { request in
            request.target == "/slow" ? .silence : .garbage
        }
        var slow = try options(server.url("/slow"), n: 4, c: 2, engine: engine)
        slow.timeout = 0.3
        let timedOut = try await LoadEngine(options: slow).run()
        #expect(timedOut.statistics.errors == 4)
        #expect(
            timedOut.statistics.errorCounts.keys.first?.hasSuffix(
                "context deadline exceeded (Client.Timeout exceeded while awaiting headers)") == true)
        let garbage = try await LoadEngine(options: try options(server.url("/bad"), n: 6, c: 3, engine: engine)).run()
        #expect(garbage.statistics.errors == 6)
        #expect(
            garbage.statistics.errorCounts.keys.first?.hasSuffix("malformed HTTP response \"SSH-2.0-nope\"") == true)
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func disableKeepAliveUsesOneConnectionPerRequest(engine: LoadOptions.Engine) async throws {
        let server = try await TestHTTPServer { _ in .respond(status: 200, body: "x") }
        var o = try options(server.url(), n: 30, c: 3, engine: engine)
        o.disableKeepAlive = true
        let report = try await LoadEngine(options: o).run()
        #expect(report.statistics.responses == 30)
        // Every request dialed: with keep-alive, reused connections would record a zero dial time.
        #expect(report.statistics.dial.min > 0)
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func durationStopsTheRun(engine: LoadOptions.Engine) async throws {
        let server = try await TestHTTPServer { _ in .respond(status: 200, body: "x") }
        var o = try options(server.url(), n: 1, c: 4, engine: engine)
        o.duration = 0.5
        let report = try await LoadEngine(options: o).run()
        // Bounded, not timed: the run must end by itself soon after -z; a loaded CI machine may be slow to do so.
        #expect(report.totalSeconds >= 0.5 && report.totalSeconds < 15)
        // The run worked while it lasted (only 2 responses in the 0.5 s were seen once with the machine at a load
        // of 20: the count is not the point, the stop is).
        #expect(report.statistics.responses > 0)
        try await server.stop()
    }

    @Test(arguments: LoadOptions.Engine.allCases)
    func csvOutputHasHeyColumns(engine: LoadOptions.Engine) async throws {
        let server = try await TestHTTPServer { _ in .respond(status: 200, body: "x") }
        var o = try options(server.url(), n: 20, c: 2, engine: engine)
        o.output = .csv
        let sink = OutputSink.memory()
        _ = try await LoadRunner.execute(o, output: sink).exitCode
        let text = sink.contents
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(
            lines.first == "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset")
        #expect(lines.count == 22 && lines.last == "")
        for row in lines.dropFirst().dropLast() {
            let fields = row.split(separator: ",")
            #expect(fields.count == 8)
            #expect(fields[6] == "200")
            #expect(fields.enumerated().allSatisfy { i, f in i == 6 || f.wholeMatch(of: /\d+\.\d{4}/) != nil })
        }
        try await server.stop()
    }

    /// A server that stalls every response for 1 s once, mid-run: `--rate` must show it in the corrected tail.
    @Test(arguments: LoadOptions.Engine.allCases)
    func rateCorrectsForCoordinatedOmission(engine: LoadOptions.Engine) async throws {
        let stallUntil = Mutex<NIODeadline?>(nil)
        let count = Atomic<Int>(0)
        let server = try await TestHTTPServer { _ in
            let k = count.wrappingAdd(1, ordering: .relaxed).newValue
            let until = stallUntil.withLock { value -> NIODeadline? in
                if k == 300 && value == nil { value = .now() + .seconds(1) }
                return value
            }
            if let until, until > .now() { return .respond(status: 200, body: "x", notBefore: until) }
            return .respond(status: 200, body: "x")
        }
        var o = try options(server.url(), n: 1000, c: 4, engine: engine)
        o.rate = 500
        let report = try await LoadEngine(options: o).run()
        let corrected = try #require(report.corrected)
        #expect(report.statistics.responses == 1000)
        #expect(corrected.p99 >= 0.9, "corrected p99 \(corrected.p99)")
        // Only the few requests in flight during the stall saw it: the uncorrected tail stays below the corrected one
        // (relative bounds: on a loaded machine, with other suites in parallel, the catch-up burst after the stall
        // reached an uncorrected p99 of 0.75 s while p90 stayed small).
        #expect(report.uncorrected.p99 < corrected.p99 * 0.9, "uncorrected p99 \(report.uncorrected.p99)")
        #expect(report.uncorrected.p90 < 0.1, "uncorrected p90 \(report.uncorrected.p90)")
        #expect(report.uncorrected.max >= 0.9)
        #expect(report.statistics.behindSchedule > 100)
        let json = JSONReport.render(report)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let latency = try #require(object["latency"] as? [String: Any])
        let jsonCorrected = try #require(latency["corrected"] as? [String: Double])
        #expect(Set(jsonCorrected.keys) == ["p50", "p90", "p99", "p999", "p9999", "max"])
        #expect(jsonCorrected["p99"]! >= 0.9)
        #expect(((latency["uncorrected"] as? [String: Double])?["p99"] ?? 9) < jsonCorrected["p99"]! * 0.9)
        #expect((object["behind_schedule"] as? Int ?? 0) > 100)
        try await server.stop()
    }
}

/// A port nobody listens on.
enum TestKitPort {
    static func unused() -> Int {
        var port = 0
        repeat { port = FreePort.next() } while FreePort.isListening(port)
        return port
    }
}

/// Servers that close idle keep-alive connections: GETs are resent (as Go/hey do), POSTs count as errors.
@Suite struct IdleCloseTests {
    @Test(arguments: LoadOptions.Engine.allCases)
    func closedIdleConnectionsAreRetriedForGET(engine: LoadOptions.Engine) async throws {
        let server = try await TestHTTPServer(closeAfter: 3) { _ in .respond(status: 200, body: "x") }
        var o = LoadOptions(url: try TargetURL(server.url()))
        o.requests = 60
        o.concurrency = 3
        o.engine = engine
        let report = try await LoadEngine(options: o).run()
        #expect(report.statistics.responses == 60 && report.statistics.errors == 0)
        o.method = "POST"
        let post = try await LoadEngine(options: o).run()
        #expect(post.statistics.requests == 60)
        #expect(post.statistics.errors > 0)
        #expect(post.statistics.errorCounts.keys.allSatisfy { $0.hasPrefix("Post \"http://127.0.0.1:") })
        try await server.stop()
    }
}
