import Foundation

/// A child process (a test's server, `counter-service --nats-server auto`'s nats-server), stopped by its PID, and
/// only that PID, when its owner is done with it.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is a Foundation Process, used from one test at a time; its methods are
    // thread-safe for terminate/wait.
    public let process: Process
    public let outputPath: String

    /// Starts `executable` with `arguments`; stdout and stderr go to a temporary log file.
    /// - Throws: when the executable is missing or cannot be started.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let path = NSTemporaryDirectory() + "child-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        self.outputPath = path
    }

    /// The PID of the child.
    public var pid: Int32 { process.processIdentifier }

    /// What the child has written so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` (default SIGTERM) and waits up to `timeout` seconds, then SIGKILL.
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 5) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Waits until `condition` holds or `timeout` seconds pass.
    /// - Returns: whether the condition held.
    public static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    deinit {
        stop(signal: SIGKILL, timeout: 1)
        // The log only serves `output` while the child is known; left behind, one file per child accumulates.
        try? FileManager.default.removeItem(atPath: outputPath)
    }
}

/// A child process that could not be found, started or made ready.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Finds an executable on PATH (and in /usr/sbin, where Debian puts nats-server and nginx).
public func findExecutable(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/usr/local/sbin:/sbin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
