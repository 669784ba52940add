import Foundation
import TestKit
import Testing

@Suite("counter-service out of file descriptors", .serialized)
struct CounterServiceDescriptorLimitTests {
    @Test("out of descriptors, accepting pauses (no busy loop on the listener) and resumes once some are free")
    func acceptPausesOnEMFILE() async throws {
        try await withBlockingAllowed {
            let service = try CounterServiceProcess(["--threads", "1"], descriptorLimit: 64)
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
}
