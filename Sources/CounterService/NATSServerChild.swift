import Foundation

/// A `nats-server` child process on a free loopback port (`--nats-server auto`), stopped by its PID on exit.
// @unchecked Sendable: `process` (a Foundation Process, not Sendable) is only used to query `isRunning` and to
// wait in `stop()`, which the shutdown sequence calls from one task; the rest is immutable.
final class NATSServerChild: @unchecked Sendable {
    /// The client URL.
    let url: String
    /// The child's PID.
    let pid: Int32
    private let process: Process

    /// Starts nats-server and waits (up to 10 s) until it accepts connections.
    /// - Throws: ``CounterAppError`` when the binary is missing or the server does not come up.
    init() throws {
        guard let binary = Self.findBinary() else {
            throw CounterAppError("nats-server not found on PATH (install the Debian package nats-server: make deps)")
        }
        let port = try Self.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-a", "127.0.0.1", "-p", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        self.pid = process.processIdentifier
        self.url = "nats://127.0.0.1:\(port)"
        let deadline = Date().addingTimeInterval(10)
        while !Self.isListening(port) {
            guard Date() < deadline, process.isRunning else {
                stop()
                throw CounterAppError("nats-server did not start on port \(port)")
            }
            usleep(20_000)
        }
    }

    /// Stops the child (SIGTERM, then SIGKILL after 5 s). Idempotent.
    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    private static func findBinary() -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/usr/local/sbin:/sbin"
        for directory in path.split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(directory)/nats-server") {
            return "\(directory)/nats-server"
        }
        return nil
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CounterAppError("socket() failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw CounterAppError("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// A start-up failure of the counter service, with a message for the operator.
struct CounterAppError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
