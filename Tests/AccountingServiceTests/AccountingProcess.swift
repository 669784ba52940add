import Foundation
import TestKit

/// An `accounting` child process on free loopback ports, stopped by its PID.
final class AccountingProcess: @unchecked Sendable {
    // @unchecked Sendable: the child is started in init and only stopped afterwards; the ports are immutable.
    let child: ChildProcess
    let httpPort: Int
    let metricsPort: Int

    static func executable() throws -> String { try BuiltExecutable.path("accounting") }

    /// Starts `accounting serve <arguments>` and waits until it is ready.
    init(_ arguments: [String], httpPort: Int = FreePort.next()) throws {
        self.httpPort = httpPort
        metricsPort = FreePort.next()
        let all = ["serve"] + arguments + ["--http-port", String(httpPort), "--metrics-port", String(metricsPort)]
        child = try ChildProcess(executable: try Self.executable(), arguments: all)
        let ready = ChildProcess.waitUntil(timeout: 30) { [child] in
            child.output.contains("Accounting Ready") || !child.process.isRunning
        }
        guard ready, child.process.isRunning else {
            child.stop(signal: SIGKILL)
            throw FixtureError("accounting did not become ready: \(child.output)")
        }
    }

    deinit { child.stop() }

    /// One request on a fresh connection, with an optional Idempotency-Key.
    func request(_ method: String, _ path: String, body: String? = nil, key: String? = nil) throws -> RawHTTPResponse {
        let connection = try RawHTTPConnection(port: httpPort)
        defer { connection.close() }
        try connection.send(requestText(method, path, body: body, key: key))
        return try connection.readResponse()
    }

    /// An account's balance, via GET.
    func balance(_ id: String) throws -> Int? {
        json(try request("GET", "/accounts/\(id)").body)?["balance"] as? Int
    }
}

/// The bytes of a request with an optional Idempotency-Key.
func requestText(_ method: String, _ path: String, body: String? = nil, key: String? = nil) -> String {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if let key { text += "Idempotency-Key: \(key)\r\n" }
    if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
    return text + "\r\n" + (body ?? "")
}

/// Parses a JSON object body.
func json(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

/// A fresh temporary directory.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "accounting-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
