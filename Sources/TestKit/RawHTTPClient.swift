#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One HTTP/1.1 response as read from a raw socket.
public struct RawHTTPResponse: Sendable, CustomStringConvertible {
    /// The status code.
    public var status: Int
    /// Header names (lowercased) and values.
    public var headers: [String: String]
    /// The body as UTF-8 text.
    public var body: String

    public var description: String { "\(status) \(body)" }
}

/// A blocking HTTP/1.1 client over one raw TCP socket to 127.0.0.1, for tests that need exact control of the
/// bytes on the wire (pipelining, malformed requests, keep-alive).
public final class RawHTTPConnection {
    fileprivate let fdValue: Int32
    private var buffer: [UInt8] = []
    private var closed = false

    /// Connects to 127.0.0.1:`port`.
    /// - Parameters:
    ///   - port: the server port.
    ///   - timeout: the receive timeout in seconds for every read.
    /// - Throws: ``FixtureError`` when the connection fails.
    public init(port: Int, timeout: Double = 10) throws {
        fdValue = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let fd = fdValue
        guard fd >= 0 else { throw FixtureError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            Glibc.close(fd)
            throw FixtureError("connect to port \(port) failed: errno \(errno)")
        }
        var value = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    /// Closes the socket. Idempotent.
    public func close() {
        if !closed {
            closed = true
            Glibc.close(fd)
        }
    }

    /// Sends bytes.
    /// - Throws: ``FixtureError`` when the send fails.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw FixtureError("send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Sends text.
    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Closes with a reset (`SO_LINGER` 0): the server's next writes fail at once. Idempotent.
    public func resetAndClose() {
        guard !closed else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    /// Half-closes: the server sees end of stream, the connection can still read.
    public func shutdownWrite() {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads more bytes; returns false on end of stream (or timeout/error).
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Reads one response (framed by Content-Length).
    /// - Throws: ``FixtureError`` on timeout, end of stream or a malformed response.
    public func readResponse() throws -> RawHTTPResponse {
        while true {
            if let (response, length) = RawHTTPConnection.parse(buffer) {
                buffer.removeFirst(length)
                return response
            }
            guard fill() else { throw FixtureError("connection ended or timed out before a full response") }
        }
    }

    /// Whether the server closes the connection (end of stream) within the receive timeout, with no further bytes.
    public func readsEndOfStream() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 1_024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count == 0 && buffer.isEmpty
    }

    /// Parses one response at the start of `bytes`; nil when incomplete.
    static func parse(_ bytes: [UInt8]) -> (RawHTTPResponse, Int)? {
        guard bytes.count >= 4 else { return nil }
        var headEnd = -1
        for index in 3..<bytes.count
        where bytes[index - 3] == 13 && bytes[index - 2] == 10 && bytes[index - 1] == 13 && bytes[index] == 10 {
            headEnd = index + 1
            break
        }
        guard headEnd > 0 else { return nil }
        let head = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst().split(separator: " ")
        let status = statusLine.count >= 2 ? Int(statusLine[1]) ?? 0 : 0
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...]).trimmingCharacters(in: " ")
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard bytes.count >= headEnd + length else { return nil }
        let body = String(decoding: bytes[headEnd..<(headEnd + length)], as: UTF8.self)
        return (RawHTTPResponse(status: status, headers: headers, body: body), headEnd + length)
    }

    /// Sends one request and reads its response.
    /// - Parameters:
    ///   - method: the method.
    ///   - path: the raw target.
    ///   - body: an optional body (sent with Content-Length).
    ///   - close: whether to send `Connection: close`.
    public func request(
        _ method: String, _ path: String, body: String? = nil, close: Bool = false
    ) throws -> RawHTTPResponse {
        try send(RawHTTPConnection.requestText(method, path, body: body, close: close))
        return try readResponse()
    }

    /// The bytes of a request.
    public static func requestText(_ method: String, _ path: String, body: String? = nil, close: Bool = false) -> String
    {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if close { text += "Connection: close\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return text + "\r\n" + (body ?? "")
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var view = Substring(self)
        while view.first == set { view.removeFirst() }
        while view.last == set { view.removeLast() }
        return String(view)
    }
}

/// Drives many keep-alive connections from one thread with poll(): each connection sends a request, waits for
/// its response, and repeats. For bounded load in tests (correctness under concurrency, not speed).
public enum RawHTTPLoad {
    /// The tally of a run.
    public struct Tally: Sendable {
        /// Responses by status code.
        public var statuses: [Int: Int] = [:]
        /// Connections that failed (refused, reset, timed out).
        public var failedConnections = 0
        /// Responses with a 2xx status.
        public var successes: Int { statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +) }
    }

    /// Runs the load.
    /// - Parameters:
    ///   - port: the server port on 127.0.0.1.
    ///   - connections: how many connections at once.
    ///   - requestsPerConnection: requests each connection sends, one after the other.
    ///   - request: the request bytes.
    ///   - timeout: the time allowed for the whole run, in seconds.
    /// - Returns: the statuses seen.
    public static func run(
        port: Int, connections: Int, requestsPerConnection: Int, request: String, timeout: Double = 60
    ) -> Tally {
        var tally = Tally()
        var clients: [RawHTTPConnection?] = []
        var remaining: [Int] = []
        var pendingBytes: [[UInt8]] = []
        let requestBytes = Array(request.utf8)
        for _ in 0..<connections {
            if let client = try? RawHTTPConnection(port: port, timeout: timeout) {
                clients.append(client)
                remaining.append(requestsPerConnection)
                pendingBytes.append([])
                try? client.send(requestBytes)
            } else {
                tally.failedConnections += 1
            }
        }
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Double(deadline.tv_sec) + timeout
        while clients.contains(where: { $0 != nil }) {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if Double(now.tv_sec) > end {
                tally.failedConnections += clients.compactMap { $0 }.count
                break
            }
            var fds = clients.map { client in pollfd(fd: client?.fd ?? -1, events: Int16(POLLIN), revents: 0) }
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), 1_000) }
            guard ready > 0 else { continue }
            for index in fds.indices where fds[index].revents != 0 {
                guard let client = clients[index] else { continue }
                var chunk = [UInt8](repeating: 0, count: 4_096)
                let count = chunk.withUnsafeMutableBytes {
                    recv(client.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                }
                if count <= 0 {
                    tally.failedConnections += 1
                    clients[index] = nil
                    continue
                }
                pendingBytes[index].append(contentsOf: chunk[0..<count])
                while let (response, length) = RawHTTPConnection.parse(pendingBytes[index]) {
                    pendingBytes[index].removeFirst(length)
                    tally.statuses[response.status, default: 0] += 1
                    remaining[index] -= 1
                    if remaining[index] > 0 {
                        try? client.send(requestBytes)
                    } else {
                        client.close()
                        clients[index] = nil
                        break
                    }
                }
            }
        }
        return tally
    }
}

extension RawHTTPConnection {
    fileprivate var fd: Int32 { fdValue }
}
