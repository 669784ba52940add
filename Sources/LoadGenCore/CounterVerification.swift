/// The `--verify-counter` check: the counter must grow by exactly (2xx responses × amount per request).
public struct CounterVerification: Sendable, Equatable {
    /// The counter URL.
    public var url: String
    /// Value before the run.
    public var before: Int
    /// Value after the run.
    public var after: Int
    /// 2xx responses during the run.
    public var successes: Int
    /// Amount each request adds.
    public var amount: Int

    /// A verification result.
    public init(url: String, before: Int, after: Int, successes: Int, amount: Int) {
        self.url = url
        self.before = before
        self.after = after
        self.successes = successes
        self.amount = amount
    }

    /// The increase the run should have caused.
    public var expected: Int { successes * amount }

    /// The increase observed.
    public var increase: Int { after - before }

    /// Whether the counter moved by exactly the expected amount.
    public var passed: Bool { increase == expected }

    /// The verification block of the summary.
    public var summary: String {
        "Counter check (\(url)):\n  \(passed ? "PASS" : "FAIL"):\tbefore \(before), after \(after), increase \(increase), "
            + "expected \(expected) (\(successes) 2xx responses x amount \(amount))\n"
    }

    /// Reads the counter: GET `url`, body `{"counter_id":"…","value":N}` (or any JSON object with an integer
    /// `field`, such as an account's `balance`).
    /// - Parameters:
    ///   - url: the counter URL.
    ///   - field: the integer member to read.
    /// - Returns: the value.
    /// - Throws: ``HTTPFetch/FetchError`` when the read fails or the body has no integer `field`.
    public static func read(_ url: TargetURL, field: String = "value") async throws -> Int {
        let response = try await HTTPFetch.get(url)
        guard response.status == 200 else {
            throw HTTPFetch.FetchError(description: "GET \(url): status \(response.status)")
        }
        guard let value = integer(forKey: field, inJSON: response.body) else {
            throw HTTPFetch.FetchError(description: "GET \(url): no integer \"\(field)\" in \(response.text)")
        }
        return value
    }

    /// The amount a request body adds: `"amount": N` in a JSON body, else 1.
    /// - Parameter body: the `-d` body.
    /// - Returns: the amount.
    public static func amount(inBody body: [UInt8]) -> Int {
        integer(forKey: "amount", inJSON: body) ?? 1
    }

    /// The integer value of the first `"key": N` in flat JSON text (no full parser: the bodies are tiny and known).
    /// - Parameters:
    ///   - key: the key.
    ///   - bytes: the JSON bytes.
    /// - Returns: the value, or nil.
    static func integer(forKey key: String, inJSON bytes: [UInt8]) -> Int? {
        let needle = Array("\"\(key)\"".utf8)
        guard needle.count <= bytes.count else { return nil }
        var i = 0
        while i + needle.count <= bytes.count {
            if Array(bytes[i..<(i + needle.count)]) == needle {
                var j = i + needle.count
                while j < bytes.count, bytes[j] == UInt8(ascii: " ") || bytes[j] == UInt8(ascii: "\t") { j += 1 }
                guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else {
                    i += 1
                    continue
                }
                j += 1
                while j < bytes.count, bytes[j] == UInt8(ascii: " ") || bytes[j] == UInt8(ascii: "\t") { j += 1 }
                var negative = false
                if j < bytes.count, bytes[j] == UInt8(ascii: "-") {
                    negative = true
                    j += 1
                }
                var value = 0
                var digits = 0
                while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57 {
                    value = value &* 10 &+ Int(bytes[j] - 48)
                    digits += 1
                    j += 1
                }
                return digits > 0 ? (negative ? -value : value) : nil
            }
            i += 1
        }
        return nil
    }
}
