import ArgumentParser
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `faultclient`: the hostile clients of `make faults` (scenario 6), where a shell cannot hold thousands of sockets.
@main
struct FaultClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faultclient",
        abstract: "Hostile HTTP clients for make faults: idle keep-alive, slow-header and garbage connections.",
        subcommands: [Hostile.self, Deposits.self],
        defaultSubcommand: Hostile.self)
}

extension FaultClientCommand {
    /// Idle keep-alive connections + slow-header connections + a stream of garbage requests, held for a while.
    struct Hostile: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hostile",
            abstract: "Open idle and slow-header connections, send garbage on others; print a JSON summary.",
            discussion: """
                Prints `ready` on a line of its own once every idle and slow connection is open, then holds them \
                for --hold seconds (a slow connection sends one more byte of a never-ending request head every \
                --slow-interval seconds), notes which ones the server closes and when, closes the rest and prints \
                one JSON object.
                """)

        @Option(help: "The server's address.")
        var host: String = "127.0.0.1"

        @Option(help: "The server's port.")
        var port: Int

        @Option(help: "Idle keep-alive connections (each sends one GET / first, then stays silent).")
        var idle: Int = 5_000

        @Option(help: "Slow-header connections (one byte of a request head every --slow-interval seconds).")
        var slow: Int = 500

        @Option(help: "Seconds between two bytes of a slow connection's head.")
        var slowInterval: Double = 5

        @Option(help: "Garbage requests per second (each on a new connection; 0: none).")
        var garbageRate: Double = 200

        @Option(help: "Seconds to hold everything after `ready`.")
        var hold: Double = 30

        func validate() throws {
            guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1…65535") }
            guard idle >= 0, slow >= 0, garbageRate >= 0, hold > 0, slowInterval > 0 else {
                throw ValidationError("counts, rates and durations must not be negative")
            }
        }

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            let target = try SocketAddress(host: host, port: port)
            let started = MonotonicTime.now

            var idleSockets: [Int32] = []
            var idleFailures: [String: Int] = [:]
            for _ in 0..<idle {
                switch target.connect() {
                case .success(let fd): idleSockets.append(fd)
                case .failure(let error): idleFailures[error.description, default: 0] += 1
                }
            }
            // One complete request on each, answered, so that the connection is a kept-alive one.
            let probe = Array("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n".utf8)
            var answered = 0
            for fd in idleSockets { _ = sendAll(fd, probe) }
            for fd in idleSockets {
                setReceiveTimeout(fd, seconds: 5)
                var buffer = [UInt8](repeating: 0, count: 4_096)
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count > 0 && buffer.starts(with: Array("HTTP/1.1 200".utf8)) { answered += 1 }
            }

            var slowSockets: [Int32] = []
            var slowFailures: [String: Int] = [:]
            let slowHead = Array("GET / HTTP/1.1\r\nHost: \(host)\r\nX-Slow: ".utf8)
            for _ in 0..<slow {
                switch target.connect() {
                case .success(let fd):
                    if sendAll(fd, [slowHead[0]]) {
                        slowSockets.append(fd)
                    } else {
                        close(fd)
                        slowFailures["send failed", default: 0] += 1
                    }
                case .failure(let error): slowFailures[error.description, default: 0] += 1
                }
            }

            let garbage = GarbageSender(target: target, rate: garbageRate)
            if garbageRate > 0 { garbage.start() }

            emit("ready")
            let ready = MonotonicTime.now

            // Watch every idle and slow socket until --hold passes.
            let watched =
                idleSockets.map { Watched(fd: $0, slow: false) } + slowSockets.map { Watched(fd: $0, slow: true) }
            var pollSet = watched.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            var closedAfter: [Int: Double] = [:]  // index → seconds from its open to the server's close
            var answeredSlow: [String: Int] = [:]
            var sentBytes = 1
            var nextByte = ready + slowInterval
            while true {
                let now = MonotonicTime.now
                if now - ready >= hold { break }
                if now >= nextByte {
                    let byte = sentBytes < slowHead.count ? slowHead[sentBytes] : UInt8(ascii: "a")
                    for index in watched.indices where watched[index].slow && pollSet[index].fd >= 0 {
                        _ = sendAll(pollSet[index].fd, [byte])
                    }
                    sentBytes += 1
                    nextByte = nextByte + slowInterval
                }
                let wait = max(1, min(100, Int32((min(nextByte, ready + hold) - now) * 1_000)))
                let events = pollSet.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), wait) }
                guard events > 0 else { continue }
                for index in pollSet.indices where pollSet[index].fd >= 0 && pollSet[index].revents != 0 {
                    let fd = pollSet[index].fd
                    var buffer = [UInt8](repeating: 0, count: 4_096)
                    let count = buffer.withUnsafeMutableBytes {
                        recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                    }
                    if count > 0 {
                        if watched[index].slow { answeredSlow[statusOf(buffer[0..<count]), default: 0] += 1 }
                        // Data on a connection: the server answered; its close (if any) comes next.
                        pollSet[index].revents = 0
                        continue
                    }
                    if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { continue }
                    closedAfter[index] = MonotonicTime.now - started
                    close(fd)
                    pollSet[index].fd = -1
                }
            }
            for entry in pollSet where entry.fd >= 0 { close(entry.fd) }
            if garbageRate > 0 { garbage.stopAndWait() }

            let slowClosed = closedAfter.filter { watched[$0.key].slow }.map(\.value).sorted()
            let idleClosed = closedAfter.filter { !watched[$0.key].slow }.count
            let summary = garbage.summary()
            let object: [String: Any] = [
                "idle_requested": idle, "idle_opened": idleSockets.count, "idle_answered": answered,
                "idle_failures": idleFailures, "idle_closed_by_server": idleClosed,
                "slow_requested": slow, "slow_opened": slowSockets.count, "slow_failures": slowFailures,
                "slow_closed_by_server": slowClosed.count, "slow_answers": answeredSlow,
                "slow_close_s_min": slowClosed.first ?? -1, "slow_close_s_max": slowClosed.last ?? -1,
                "slow_head_bytes_sent": sentBytes, "hold_s": hold,
                "garbage_requests": summary.requests, "garbage_statuses": summary.statuses,
                "garbage_errors": summary.errors,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            emit(String(decoding: data, as: UTF8.self))
        }
    }
}

/// One watched socket: idle keep-alive or slow-header.
struct Watched {
    let fd: Int32
    let slow: Bool
}

/// Sends garbage and oversized requests, each on a new connection, at a bounded rate, on its own thread.
final class GarbageSender: Sendable {
    struct Summary: Sendable {
        var requests = 0
        var statuses: [String: Int] = [:]
        var errors: [String: Int] = [:]
    }

    let target: SocketAddress
    let rate: Double
    private let stopped = Atomic<Bool>(false)
    private let state = Mutex(Summary())

    init(target: SocketAddress, rate: Double) {
        self.target = target
        self.rate = rate
    }

    /// The requests it cycles through: each is refused by a conforming server (4xx) and changes no counter.
    static let requests: [[UInt8]] = {
        var list: [[UInt8]] = []
        list.append(Array("GET /\(String(repeating: "a", count: 10_000)) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        list.append(Array("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 9_000))\r\n\r\n".utf8))
        list.append(
            Array("POST /counter/fault-garbage/increment HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".utf8)
                + [UInt8](repeating: UInt8(ascii: "{"), count: 100_000))
        list.append(
            Array("POST /counter/fault-garbage/increment HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".utf8))
        list.append(Array("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".utf8))
        list.append(Array("\u{1}\u{2}\u{3} / HTTP/9.9\r\n\r\n".utf8))
        list.append(Array("GET / HTTP/1.1\nHost: x\0\n\n".utf8))
        list.append(Array("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".utf8))
        list.append(Array("GET /%zz%00 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<8 {
            list.append((0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) } + Array("\r\n\r\n".utf8))
        }
        return list
    }()

    /// Starts sending on a thread of its own.
    func start() {
        let thread = Thread { [self] in
            run()
            finished.store(true, ordering: .sequentiallyConsistent)
        }
        thread.start()
    }

    /// Asks the thread to stop and waits (polling every 10 ms: a tool's main thread, not the cooperative pool).
    func stopAndWait() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        while !finished.load(ordering: .sequentiallyConsistent) { usleep(10_000) }
    }

    private let finished = Atomic<Bool>(false)

    func summary() -> Summary { state.withLock { $0 } }

    private func run() {
        let interval = 1 / rate
        var next = MonotonicTime.now
        var index = 0
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let now = MonotonicTime.now
            if now < next {
                usleep(useconds_t(min(0.1, next - now) * 1_000_000))
                continue
            }
            next = max(next + interval, now - 1)
            let request = Self.requests[index % Self.requests.count]
            index += 1
            let outcome = exchange(request)
            state.withLock { summary in
                summary.requests += 1
                switch outcome {
                case .answered(let status): summary.statuses[status, default: 0] += 1
                case .failed(let error): summary.errors[error, default: 0] += 1
                }
            }
        }
    }

    /// Connects, sends the request (the server may close before all of it is sent), reads the answer's status.
    private func exchange(_ request: [UInt8]) -> Exchange {
        let fd: Int32
        switch target.connect() {
        case .success(let socket): fd = socket
        case .failure(let error): return .failed(error.description)
        }
        defer { close(fd) }
        setReceiveTimeout(fd, seconds: 2)
        var sendTimeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        _ = sendAll(fd, request)
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .answered(statusOf(buffer[0..<count])) }
        if count == 0 { return .failed("closed without an answer") }
        return .failed(errno == EAGAIN ? "no answer in 2 s" : String(cString: strerror(errno)))
    }

    /// How one garbage exchange ended: the answer's status, or the transport error.
    enum Exchange {
        case answered(String)
        case failed(String)
    }
}

/// An IPv4 loopback address to connect to.
struct SocketAddress: Sendable {
    let address: sockaddr_in

    struct ConnectError: Error, CustomStringConvertible {
        let code: Int32
        var description: String { String(cString: strerror(code)) }
    }

    init(host: String, port: Int) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw ValidationError("--host must be an IPv4 address (got \(host))")
        }
        self.address = address
    }

    /// A blocking connect; the socket stays blocking.
    func connect() -> Result<Int32, ConnectError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(ConnectError(code: errno)) }
        var address = self.address
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            close(fd)
            return .failure(ConnectError(code: code))
        }
        return .success(fd)
    }
}

/// Monotonic seconds.
enum MonotonicTime {
    static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// Writes a line to standard output at once (unbuffered: the script waits for `ready`).
func emit(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

/// Sends every byte (or fails); never raises SIGPIPE.
func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
        if sent <= 0 { return false }
        offset += sent
    }
    return true
}

func setReceiveTimeout(_ fd: Int32, seconds: Int) {
    var timeout = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
}

/// The status code of an HTTP response's first bytes, or "unparsable".
func statusOf(_ bytes: ArraySlice<UInt8>) -> String {
    let prefix = Array(bytes.prefix(12))
    guard prefix.count == 12, prefix.starts(with: Array("HTTP/1.".utf8)) else { return "unparsable" }
    return String(decoding: prefix[9..<12], as: UTF8.self)
}
