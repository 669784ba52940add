import Foundation
import TestKit
import Testing

@Suite("counter-service out of file descriptors", .serialized)
struct CounterServiceDescriptorLimitTests {
    @Test("out of descriptors, accepting pauses (no busy loop on the listener) and resumes once some are free")
    func acceptPausesOnEMFILE() async throws {
        try await withBlockingAllowed {
            // A connection cap above the descriptor limit, so that accepting runs out of descriptors (the default
            // cap stays under it: see the next test).
            let service = try CounterServiceProcess(
                ["--threads", "1", "--max-connections", "1000"], descriptorLimit: 64)
            // More connections than the server has descriptors for: the kernel completes them all (backlog 1,024),
            // the server accepts until EMFILE and the rest wait in the queue.
            var clients: [RawHTTPConnection] = []
            for _ in 0..<100 { clients.append(try RawHTTPConnection(port: service.httpPort, timeout: 3)) }
            let last = try #require(clients.last)
            try last.send(RawHTTPConnection.requestText("GET", "/"))
            // Not accepted: no answer within the receive timeout. The window the server spends at EMFILE.
            #expect(throws: (any Error).self) { try last.readResponse() }
            for client in clients { client.close() }
            // Once the closed connections free their descriptors, accepting resumes (within the second's pause)
            // and the server serves again.
            var answered = false
            let deadline = Date().addingTimeInterval(15)
            while !answered && Date() < deadline {
                if let connection = try? RawHTTPConnection(port: service.httpPort, timeout: 3),
                    let response = try? connection.request("GET", "/")
                {
                    answered = response.status == 200
                }
            }
            #expect(answered, "serves again after the pause")
            // Each failed accept pauses the listener for a second: a handful over the few seconds at EMFILE, where
            // a level-triggered listener left watched would fail thousands of times per second.
            let failures = try #require(try service.metric("clstr_http_accept_failures_total"))
            #expect(failures >= 1, "the limit was reached")
            #expect(failures <= 20, "\(failures) failed accepts: accepting did not pause")
        }
    }

    @Test("the default connection cap is derived from the descriptor limit: 503 beyond it, not a failed accept")
    func defaultCapUnderDescriptorLimit() async throws {
        try await withBlockingAllowed {
            // 64 descriptors: the cap is 64 - 16 = 48 connections.
            let service = try CounterServiceProcess(["--threads", "1"], descriptorLimit: 64)
            var clients: [RawHTTPConnection] = []
            for _ in 0..<47 { clients.append(try RawHTTPConnection(port: service.httpPort, timeout: 5)) }
            // The 48th place (the metrics scrapes below use the other server).
            let served = try RawHTTPConnection(port: service.httpPort, timeout: 5)
            #expect(try served.request("GET", "/").status == 200)
            let refused = try RawHTTPConnection(port: service.httpPort, timeout: 5)
            let answer = try refused.readResponse()
            #expect(answer.status == 503)
            #expect(answer.headers["connection"] == "close")
            #expect(try service.metric("clstr_http_connections_refused_total") == 1)
            #expect(try service.metric("clstr_http_accept_failures_total") == 0)
            for client in clients { client.close() }
        }
    }
}
