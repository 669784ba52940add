import Foundation

/// A real `nats-server` process on a free loopback port: for tests that claim to talk to NATS, the benchmarks, and
/// `--nats-server auto`.
public final class NATSServer: @unchecked Sendable {
    // @unchecked Sendable: `child` is replaced only by `start()` after `stop()`, which its owner calls from one task
    // at a time.
    public let port: Int
    private var child: ChildProcess
    private let storeDirectory: String
    private let jetStream: Bool

    /// The client URL, `nats://127.0.0.1:<port>`.
    public var url: String { "nats://127.0.0.1:\(port)" }

    /// Starts nats-server and waits until it accepts connections.
    /// - Parameter jetStream: start with JetStream enabled (file store in a temporary directory).
    /// - Throws: ``FixtureError`` when the binary is missing (run `make deps`) or the server does not come up.
    public init(jetStream: Bool = false, port: Int = FreePort.next()) throws {
        self.port = port
        self.jetStream = jetStream
        self.storeDirectory = NSTemporaryDirectory() + "nats-\(UUID().uuidString)"
        self.child = try Self.launch(port: port, jetStream: jetStream, storeDirectory: storeDirectory)
    }

    private static func launch(port: Int, jetStream: Bool, storeDirectory: String) throws -> ChildProcess {
        guard let binary = findExecutable("nats-server") else {
            throw FixtureError(
                "nats-server not found on PATH: run `make deps` (installs the Debian package nats-server)")
        }
        var arguments = ["-a", "127.0.0.1", "-p", String(port)]
        if jetStream { arguments += ["-js", "-sd", storeDirectory] }
        let child = try ChildProcess(executable: binary, arguments: arguments)
        guard ChildProcess.waitUntil(timeout: 10, { FreePort.isListening(port) }) else {
            child.stop(signal: SIGKILL)
            throw FixtureError("nats-server did not start on port \(port): \(child.output)")
        }
        return child
    }

    /// The server's PID.
    public var pid: Int32 { child.pid }

    /// Stops the server: `signal` (SIGTERM: a clean shutdown; SIGKILL: a crash), then SIGKILL after 5 s.
    public func stop(signal: Int32 = SIGTERM) { child.stop(signal: signal) }

    /// Deletes the JetStream store directory (after ``stop()``): the next ``start()`` begins empty, as a server
    /// that lost its disk.
    public func removeStore() {
        try? FileManager.default.removeItem(atPath: storeDirectory)
    }

    /// Starts the server again on the same port (after ``stop()``).
    public func start() throws {
        child = try Self.launch(port: port, jetStream: jetStream, storeDirectory: storeDirectory)
    }

    deinit {
        child.stop(signal: SIGKILL, timeout: 1)
        try? FileManager.default.removeItem(atPath: storeDirectory)
    }
}
