import Foundation
import ClstrRuntime
import Testing
import TestKit

@testable import RuntimeNATS

@Suite("NATSTransport over TLS (tls:// URL, nats-server --tls)", .serialized, .timeLimit(.minutes(1)))
struct NATSTransportTLSTests {
    /// A throw-away CA and a server certificate for 127.0.0.1, made with the openssl CLI.
    struct Certificates {
        let directory: String
        var ca: String { directory + "/ca.pem" }
        var cert: String { directory + "/server.pem" }
        var key: String { directory + "/server.key" }

        init() throws {
            guard let openssl = findExecutable("openssl") else {
                throw FixtureError("openssl not found: run `make deps`")
            }
            directory = NSTemporaryDirectory() + "nats-tls-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
                toFile: directory + "/ext.cnf", atomically: true, encoding: .utf8)
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            let steps: [[String]] = [
                ["req", "-x509"] + ec + [
                    "-keyout", directory + "/ca.key", "-out", ca, "-days", "1", "-subj", "/CN=clstr-test-ca",
                ],
                ["req"] + ec + ["-keyout", key, "-out", directory + "/server.csr", "-subj", "/CN=127.0.0.1"],
                [
                    "x509", "-req", "-in", directory + "/server.csr", "-CA", ca, "-CAkey", directory + "/ca.key",
                    "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", directory + "/ext.cnf",
                ],
            ]
            for arguments in steps {
                let child = try ChildProcess(executable: openssl, arguments: arguments)
                child.process.waitUntilExit()
                guard child.process.terminationStatus == 0 else {
                    throw FixtureError("openssl failed: \(child.output)")
                }
            }
        }
    }

    @Test("request/reply over TLS with the test CA; without it the connection is refused")
    func tlsRoundTrip() async throws {
        let certificates = try Certificates()
        defer { try? FileManager.default.removeItem(atPath: certificates.directory) }
        guard let binary = findExecutable("nats-server") else {
            throw FixtureError("nats-server not found on PATH: run `make deps`")
        }
        let port = FreePort.next()
        let server = try ChildProcess(
            executable: binary,
            arguments: [
                "-a", "127.0.0.1", "-p", String(port), "--tlscert", certificates.cert, "--tlskey", certificates.key,
            ])
        defer { server.stop() }
        #expect(ChildProcess.waitUntil(timeout: 10) { FreePort.isListening(port) }, "\(server.output)")

        var configuration = NATSTransport.Configuration(urls: ["tls://127.0.0.1:\(port)"], subjectPrefix: "tls")
        configuration.trustedCertificatesFile = certificates.ca
        let transport = try NATSTransport(configuration: configuration)
        defer { transport.close() }
        let serving = try transport.serve(shards: [0], nodeID: "node-0", handler: TestShardHandler())
        defer { serving.cancel() }
        #expect(await send(transport, shard: 0, value: 1).outcome.int == 2)

        // The system CA bundle does not trust the test CA: the handshake fails.
        var untrusted = NATSTransport.Configuration(urls: ["tls://127.0.0.1:\(port)"], subjectPrefix: "tls")
        untrusted.trustedCertificatesFile = nil
        #expect(throws: NATSError.self) { _ = try NATSTransport(configuration: untrusted) }
    }
}
