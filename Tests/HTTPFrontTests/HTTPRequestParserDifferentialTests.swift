import Testing

@testable import HTTPFront

/// The parser (memchr line search, token masks, word-at-a-time value checks and name comparisons) against the
/// byte-at-a-time parser it replaced (``ReferenceRequestParser``): every input, whole and fed in growing prefixes,
/// must get the same result, error statuses and messages included.
@Suite("HTTPRequestParser against the reference parser")
struct HTTPRequestParserDifferentialTests {
    /// A result of either parser as a plain value.
    enum Verdict: Equatable, CustomStringConvertible {
        case needMore
        case head(HTTPRequestHead)
        case failure(Int, String)

        init(_ result: HTTPRequestParser.Result) {
            switch result {
            case .needMore: self = .needMore
            case .head(let head): self = .head(head)
            case .failure(let error): self = .failure(error.status.code, error.message)
            }
        }

        init(_ result: ReferenceRequestParser.Result) {
            switch result {
            case .needMore: self = .needMore
            case .head(let head): self = .head(head)
            case .failure(let error): self = .failure(error.status.code, error.message)
            }
        }

        var description: String {
            switch self {
            case .needMore: "needMore"
            case .head(let head): "\(head)"
            case .failure(let code, let message): "\(code) \(message)"
            }
        }
    }

    static let seeds: [String] = [
        "GET / HTTP/1.1\r\n\r\n",
        "GET /counter/a HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /counter/bench/increment HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: loadgen/0.1\r\n"
            + "Content-Length: 0\r\nContent-Type: text/html\r\nAccept-Encoding: gzip\r\n\r\n",
        "POST /x HTTP/1.1\r\ncOnTeNt-LeNgTh:   13 \r\nCONNECTION: Close\r\n\r\n",
        "GET / HTTP/1.0\n\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n",
        "POST /c/x/increment HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /c HTTP/1.1\r\nTRANSFER-ENCODING: CHUNKED\r\nContent-Length: 3\r\n\r\n",
        "POST /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /c HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST /c HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "POST /c HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
        "POST /c HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n",
        "POST /c HTTP/1.1\r\nIdempotency-Key:  key-1 \t\r\nContent-Length: 2\r\n\r\n",
        "GET /x HTTP/1.1\r\nX-Long-Header-Name-Here: a value that is longer than eight bytes\tand tabs\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n",
        "GET /x HTTP/2.0\r\n\r\n",
        "GET /x HTTP/1.2\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET  /x HTTP/1.1\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\n\r\n",
        "GET http://x/y HTTP/1.1\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Lengthx: 3\r\nConnectiom: close\r\nTransfer-Encodinh: chunked\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Length : 3\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent\rLength: 3\r\nHOST: h\r\nuser-agent: u\r\nAccept: */*\r\nCookie: a=b\r\n"
            + "Cache-Control: no-cache\r\nAuthorization: Basic x\r\nAccept-Language: en\r\nEXPECT: 100-continue\r\n\r\n",
        "GET /x HTTP/1.1\r\nHo st: h\r\n\r\n",
        "GET /x HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /x HTTP/1.1\r\nAccept-Encodin\u{7f}: gzip\r\nX-A\u{e9}: 1\r\n\r\n",
    ]

    /// Bytes that steer a parser into its edge cases.
    static let specials: [UInt8] = [0x20, 0x09, 0x0D, 0x0A, 0x3A, 0x2C, 0x7F, 0x00, 0x80, 0xFF, 0x2D, 0x41, 0x61, 0x30]

    /// Deterministic mutations of the seeds: replaced, inserted and deleted bytes, and case flips.
    static func inputs() -> [[UInt8]] {
        var generator = SplitMix64(seed: 0x5EED)
        var all = seeds.map { Array($0.utf8) }
        for seed in seeds {
            let bytes = Array(seed.utf8)
            for _ in 0..<300 {
                var mutated = bytes
                for _ in 0..<(1 + Int(generator.next() % 3)) where !mutated.isEmpty {
                    let position = Int(generator.next() % UInt64(mutated.count))
                    let special = specials[Int(generator.next() % UInt64(specials.count))]
                    switch generator.next() % 4 {
                    case 0: mutated[position] = special
                    case 1: mutated.insert(special, at: position)
                    case 2: mutated.remove(at: position)
                    default: mutated[position] ^= 0x20
                    }
                }
                all.append(mutated)
            }
        }
        return all
    }

    @Test("every input, whole and in growing prefixes, gets the reference parser's result")
    func sameResults() {
        var limits = HTTPLimits()
        limits.maxHeadBytes = 96
        limits.maxTargetBytes = 24
        limits.maxBodyBytes = 1_000
        var compared = 0
        for bytes in Self.inputs() {
            for limits in [HTTPLimits(), limits] {
                let whole = bytes.withUnsafeBytes { raw in
                    var parser = HTTPRequestParser(limits: limits)
                    var reference = ReferenceRequestParser(limits: limits)
                    return (Verdict(parser.parseHead(raw)), Verdict(reference.parseHead(raw)))
                }
                #expect(whole.0 == whole.1, "\(bytes)")
                // Growing prefixes through one parser each, as a connection feeds them (the remembered scan).
                var parser = HTTPRequestParser(limits: limits)
                var reference = ReferenceRequestParser(limits: limits)
                for end in 0...bytes.count {
                    let verdicts = bytes[0..<end].withUnsafeBytes { raw in
                        (Verdict(parser.parseHead(raw)), Verdict(reference.parseHead(raw)))
                    }
                    compared += 1
                    if verdicts.0 != verdicts.1 {
                        Issue.record("prefix \(end) of \(bytes): \(verdicts.0) vs \(verdicts.1)")
                        break
                    }
                    if verdicts.0 != .needMore { break }
                }
            }
        }
        #expect(compared > 10_000)
    }
}

/// A small deterministic generator (SplitMix64), so that a failure reproduces.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
