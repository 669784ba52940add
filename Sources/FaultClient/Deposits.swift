import ArgumentParser
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension FaultClientCommand {
    /// Keyed deposits of 1 while the script kills things, then the unanswered keys retried (scenarios 4 and 5).
    struct Deposits: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deposits",
            abstract: "Deposit 1 per request with a unique Idempotency-Key; afterwards retry the unanswered keys.",
            discussion: """
                Workers deposit for --seconds, reconnecting while the service is away; every key ends answered \
                (2xx), refused (503: not applied) or unknown (504, a lost connection, no answer). Then it reads the \
                balance, retries every refused and unknown key with the same key until a 2xx (for at most \
                --retry-seconds), reads the balance again and prints one JSON object.
                """)

        @Option(help: "The service's address.")
        var host: String = "127.0.0.1"

        @Option(help: "The service's HTTP port.")
        var port: Int

        @Option(help: "The account (created when missing).")
        var account: String

        @Option(help: "Concurrent connections.")
        var connections: Int = 8

        @Option(help: "Seconds of deposits.")
        var seconds: Double = 10

        @Option(help: "Seconds at most for the retries.")
        var retrySeconds: Double = 30

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            let target = try SocketAddress(host: host, port: port)
            let client = KeyedClient(target: target, host: host)
            let created = client.exchange(method: "POST", path: "/accounts/\(account)", key: nil, body: "{}")
            guard created.status == 201 || created.status == 409 else {
                throw ValidationError("could not create account \(account): \(created)")
            }
            let tally = DepositTally()
            let end = MonotonicTime.now + seconds
            for worker in 0..<connections {
                let thread = Thread { [account] in
                    var connection: Int32 = -1
                    var index = 0
                    while MonotonicTime.now < end {
                        let key = "\(account)-w\(worker)-\(index)"
                        index += 1
                        let answer = client.exchange(
                            method: "POST", path: "/accounts/\(account)/deposit", key: key, body: #"{"amount": 1}"#,
                            connection: &connection)
                        tally.note(key: key, answer: answer)
                        // The service is away or overloaded (no answer, 503, 504): back off like a client would.
                        if (answer.status ?? 500) >= 500 { usleep(20_000) }
                    }
                    if connection >= 0 { close(connection) }
                    tally.workerFinished()
                }
                thread.start()
            }
            while tally.finishedWorkers < connections { usleep(10_000) }  // the tool's main thread, not a pool

            let beforeRetry = client.balance(account: account)
            let retries = RetryQueue(tally.toRetry())
            let toRetry = retries.remaining
            let retryEnd = MonotonicTime.now + retrySeconds
            for _ in 0..<connections {
                let thread = Thread { [account] in
                    var connection: Int32 = -1
                    while MonotonicTime.now < retryEnd, let key = retries.next() {
                        let answer = client.exchange(
                            method: "POST", path: "/accounts/\(account)/deposit", key: key, body: #"{"amount": 1}"#,
                            connection: &connection)
                        if let status = answer.status, (200..<300).contains(status) {
                            retries.succeeded()
                        } else {
                            retries.again(key)
                            usleep(50_000)
                        }
                    }
                    if connection >= 0 { close(connection) }
                    retries.workerFinished()
                }
                thread.start()
            }
            while retries.finishedWorkers < connections { usleep(10_000) }  // the tool's main thread, not a pool
            let retriedOK = retries.succeededCount
            let pending = retries.remaining
            let final = client.balance(account: account)
            let counts = tally.counts()
            let object: [String: Any] = [
                "requests": counts.requests, "s2xx": counts.s2xx, "s503": counts.s503, "s504": counts.s504,
                "other": counts.requests - counts.s2xx - counts.s503 - counts.s504, "statuses": counts.statuses,
                "errors": counts.errors, "acknowledged": counts.acknowledged, "to_retry": toRetry,
                "retried_ok": retriedOK, "retry_left": pending, "balance_before_retry": beforeRetry ?? -1,
                "balance_final": final ?? -1,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            emit(String(decoding: data, as: UTF8.self))
        }
    }
}

/// The keys still to retry, shared by the retrying threads.
final class RetryQueue: Sendable {
    private struct State {
        var keys: [String]
        var succeeded = 0
        var inFlight = 0
    }

    private let state: Mutex<State>
    private let finished = Atomic<Int>(0)

    init(_ keys: [String]) { state = Mutex(State(keys: keys)) }

    /// The next key, or nil when none is left.
    func next() -> String? {
        state.withLock { state in
            guard let key = state.keys.popLast() else { return nil }
            state.inFlight += 1
            return key
        }
    }

    func succeeded() {
        state.withLock {
            $0.inFlight -= 1
            $0.succeeded += 1
        }
    }

    func again(_ key: String) {
        state.withLock {
            $0.inFlight -= 1
            $0.keys.insert(key, at: 0)
        }
    }

    var remaining: Int { state.withLock { $0.keys.count + $0.inFlight } }
    var succeededCount: Int { state.withLock { $0.succeeded } }
    func workerFinished() { finished.add(1, ordering: .sequentiallyConsistent) }
    var finishedWorkers: Int { finished.load(ordering: .sequentiallyConsistent) }
}

/// What became of every key.
final class DepositTally: Sendable {
    struct Counts: Sendable {
        var requests = 0
        var s2xx = 0
        var s503 = 0
        var s504 = 0
        var acknowledged = 0
        var statuses: [String: Int] = [:]
        var errors: [String: Int] = [:]
        var retry: [String] = []
    }

    private let state = Mutex(Counts())
    private let finished = Atomic<Int>(0)

    func workerFinished() { finished.add(1, ordering: .sequentiallyConsistent) }
    var finishedWorkers: Int { finished.load(ordering: .sequentiallyConsistent) }

    func note(key: String, answer: KeyedClient.Answer) {
        state.withLock { counts in
            counts.requests += 1
            guard let status = answer.status else {
                counts.errors[answer.error ?? "?", default: 0] += 1
                counts.retry.append(key)
                return
            }
            counts.statuses[String(status), default: 0] += 1
            switch status {
            case 200..<300:
                counts.s2xx += 1
                counts.acknowledged += 1
            case 503:
                counts.s503 += 1
                counts.retry.append(key)
            case 504:
                counts.s504 += 1
                counts.retry.append(key)
            default:
                counts.retry.append(key)
            }
        }
    }

    func toRetry() -> [String] { state.withLock { $0.retry } }
    func counts() -> Counts { state.withLock { $0 } }
}

/// A blocking HTTP/1.1 client for one request at a time on a kept-alive connection (reconnects when needed).
struct KeyedClient: Sendable {
    let target: SocketAddress
    let host: String

    struct Answer: CustomStringConvertible {
        var status: Int?
        var body: String = ""
        var error: String?
        var description: String { status.map { "\($0) \(body)" } ?? (error ?? "?") }
    }

    func exchange(method: String, path: String, key: String?, body: String) -> Answer {
        var connection: Int32 = -1
        defer { if connection >= 0 { close(connection) } }
        return exchange(method: method, path: path, key: key, body: body, connection: &connection)
    }

    func balance(account: String) -> Int? {
        let answer = exchange(method: "GET", path: "/accounts/\(account)", key: nil, body: "")
        guard answer.status == 200,
            let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        else { return nil }
        return (object["balance"] as? NSNumber)?.intValue
    }

    /// One request; on any transport failure the connection is closed (and reopened by the next call).
    func exchange(method: String, path: String, key: String?, body: String, connection: inout Int32) -> Answer {
        if connection < 0 {
            switch target.connect() {
            case .success(let fd):
                setReceiveTimeout(fd, seconds: 10)
                connection = fd
            case .failure(let error): return Answer(error: "connect: \(error)")
            }
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\n"
        if let key { head += "Idempotency-Key: \(key)\r\n" }
        if method == "POST" { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        let request = Array((head + "\r\n" + body).utf8)
        guard sendAll(connection, request) else { return fail(&connection, "send failed") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count == 0 { return fail(&connection, "closed before the answer") }
            if count < 0 { return fail(&connection, errno == EAGAIN ? "no answer in 10 s" : "recv failed") }
            received += buffer[0..<count]
            guard let headEnd = headEnd(received) else { continue }
            let headText = String(decoding: received[0..<headEnd], as: UTF8.self).lowercased()
            guard received.count >= 12, let status = Int(String(decoding: received[9..<12], as: UTF8.self)) else {
                return fail(&connection, "unparsable answer")
            }
            var length = 0
            for line in headText.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            }
            while received.count < headEnd + length {
                let more = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if more <= 0 { return fail(&connection, "closed in the body") }
                received += buffer[0..<more]
            }
            if headText.contains("connection: close") {
                close(connection)
                connection = -1
            }
            return Answer(status: status, body: String(decoding: received[headEnd..<(headEnd + length)], as: UTF8.self))
        }
    }

    private func fail(_ connection: inout Int32, _ error: String) -> Answer {
        close(connection)
        connection = -1
        return Answer(error: error)
    }

    private func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 {
            return index + 1
        }
        return nil
    }
}
