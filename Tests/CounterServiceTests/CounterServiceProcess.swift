import Foundation
import TestKit

/// A `counter-service` child process on free loopback ports, stopped by its PID.
final class CounterServiceProcess: @unchecked Sendable {
    // @unchecked Sendable: the child is started in init and only stopped afterwards; the ports are immutable.
    let child: ChildProcess
    let httpPort: Int
    let metricsPort: Int

    /// The built executable, beside the test bundle in SwiftPM's build folder.
    static func executable() throws -> String { try BuiltExecutable.path("counter-service") }

    /// Starts `counter-service <arguments> --http-port P --metrics-port M` and waits until it is ready.
    /// - Parameters:
    ///   - arguments: the subcommand and options (ports are added).
    ///   - http: whether the process serves HTTP (false for `node`).
    ///   - descriptorLimit: a lower `RLIMIT_NOFILE` for the child (`ulimit -n` before `exec`).
    init(_ arguments: [String], http: Bool = true, descriptorLimit: Int? = nil) throws {
        httpPort = FreePort.next()
        metricsPort = FreePort.next()
        var all = arguments + ["--metrics-port", String(metricsPort)]
        if http { all += ["--http-port", String(httpPort)] }
        if let descriptorLimit {
            // `exec` keeps the shell's PID: the child is still stopped by its own PID.
            child = try ChildProcess(
                executable: "/bin/sh",
                arguments: ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", try Self.executable()] + all)
        } else {
            child = try ChildProcess(executable: try Self.executable(), arguments: all)
        }
        let ready = ChildProcess.waitUntil(timeout: 30) { [child] in
            child.output.contains(http ? "Counter Demo Ready" : "node ready") || !child.process.isRunning
        }
        guard ready, child.process.isRunning else {
            child.stop(signal: SIGKILL)
            throw FixtureError("counter-service did not become ready: \(child.output)")
        }
    }

    deinit { child.stop() }

    /// One request on a fresh connection.
    func request(_ method: String, _ path: String, body: String? = nil) throws -> RawHTTPResponse {
        let connection = try RawHTTPConnection(port: httpPort)
        defer { connection.close() }
        return try connection.request(method, path, body: body)
    }

    /// The value of counter `id` (percent-encoded path segment), via GET.
    func value(_ encodedID: String) throws -> Int? {
        let response = try request("GET", "/counter/\(encodedID)")
        return json(response.body)?["value"] as? Int
    }

    /// The metrics text.
    func metrics() throws -> String {
        let connection = try RawHTTPConnection(port: metricsPort)
        defer { connection.close() }
        return try connection.request("GET", "/metrics").body
    }

    /// The value of an unlabelled sample in the metrics text.
    func metric(_ name: String) throws -> Int? {
        for line in try metrics().split(separator: "\n") where line.hasPrefix(name + " ") {
            return Int(Double(line.split(separator: " ")[1]) ?? -1)
        }
        return nil
    }
}

/// Parses a JSON object body.
func json(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

/// Percent-encodes every byte outside the unreserved set (RFC 3986), so any key fits in one path segment.
func percentEncode(_ key: String) -> String {
    var encoded = ""
    for byte in key.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            encoded.append(Character(UnicodeScalar(byte)))
        default:
            encoded += String(format: "%%%02X", byte)
        }
    }
    return encoded
}
