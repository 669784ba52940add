#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import LoadGenCore
import TestKit
import Testing

@testable import LoadGenCLI

/// `loadgen -n 100000 -c 200` without a URL: the local counter-service's bench counter, POST, with the counter
/// check on — a difference from hey, which prints its usage.
@Suite struct DefaultTargetTests {
    /// A TCP socket bound to a free loopback port, listening or not, closed by `close()`. Bound but not listening,
    /// it holds the port so that nothing else can listen there while a connection to it is refused.
    final class Listener {
        let descriptor: Int32
        let port: Int

        init(listening: Bool = true) throws {
            #if canImport(Glibc)
                let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #else
                let descriptor = socket(AF_INET, SOCK_STREAM, 0)
            #endif
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            try #require(descriptor >= 0 && bound == 0 && (!listening || listen(descriptor, 8) == 0))
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            self.descriptor = descriptor
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        func close() {
            #if canImport(Glibc)
                _ = Glibc.close(descriptor)
            #else
                _ = Darwin.close(descriptor)
            #endif
        }
    }

    @Test func noURLDrivesTheLocalCounterWithTheCheckOn() throws {
        let command = try #require(try LoadGenCommand.parseAsRoot(["-n", "100000", "-c", "200"]) as? RunCommand)
        let options = try command.makeOptions(defaultBase: "http://127.0.0.1:9999")
        #expect(options.method == "POST")
        #expect(options.url.description == "http://127.0.0.1:9999/counter/bench/increment")
        #expect(options.verifyCounterURL?.description == "http://127.0.0.1:9999/counter/bench")
        #expect(options.requests == 100_000 && options.concurrency == 200)
        #expect(
            RunCommand.defaultTargetLine().hasPrefix(
                "loadgen: no URL given: POST http://127.0.0.1:8181/counter/bench/increment with --verify-counter "
                    + "http://127.0.0.1:8181/counter/bench"))
        // With a URL, hey's behaviour: GET, no check.
        let explicit = try #require(try LoadGenCommand.parseAsRoot(["http://127.0.0.1:9999/x"]) as? RunCommand)
        let plain = try explicit.makeOptions()
        #expect(plain.method == "GET" && plain.verifyCounterURL == nil)
    }

    @Test func nothingListeningIsOneLineSayingHowToStartIt() throws {
        let listener = try Listener()
        #expect(RunCommand.defaultTargetProblem(base: "http://127.0.0.1:\(listener.port)") == nil)
        listener.close()
        // Not the port just closed: a test running beside this one may listen on it by now.
        let silent = try Listener(listening: false)
        defer { silent.close() }
        let problem = try #require(RunCommand.defaultTargetProblem(base: "http://127.0.0.1:\(silent.port)"))
        #expect(
            problem == "loadgen: nothing listens on 127.0.0.1:\(silent.port): start counter-service with "
                + "`make run` (or give loadgen a URL)")
        #expect(!problem.contains("\n"))
    }

    @Test func theBinaryWithoutAURLSaysWhatItDrives() async throws {
        // Only when nothing listens on 8181 (another `make run` on this machine would be driven for real).
        guard RunCommand.defaultTargetProblem() != nil else { return }
        let path = try BuiltExecutable.path("loadgen")
        // The child is waited for on a dedicated thread, not on the cooperative pool.
        let (status, stdout, stderr) = await offPool { () -> (Int32, String, String) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = ["-n", "10", "-c", "2"]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            guard (try? process.run()) != nil else { return (-1, "", "") }
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, stdout, stderr)
        }
        #expect(status == 1)
        #expect(stdout == RunCommand.defaultTargetLine() + "\n")
        #expect(stderr == (RunCommand.defaultTargetProblem() ?? "") + "\n")
    }
}
