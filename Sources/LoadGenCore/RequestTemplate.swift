import NIOCore

/// The bytes of one HTTP/1.1 request, encoded once.
///
/// Without placeholders every request is the same ``staticBytes`` buffer (written by reference, never copied).
/// With placeholders in the request target or the body the request is a list of literal segments and
/// placeholders; each request is rendered into a reused buffer with ``render(sequence:random:into:)``:
///
/// - `{n}`: the request's sequence number (0, 1, 2, … across all connections);
/// - `{rand:N}`: a uniform random integer in `0..<N` (a per-connection generator, no locks; each occurrence draws
///   its own value, so `{"from":"a{rand:1000}","to":"a{rand:1000}"}` names two independent accounts).
///
/// Any other `{…}` (a JSON object's braces) is sent as written. A body with placeholders has a length that varies
/// per request: its `Content-Length` value is a ``Segment/contentLength`` segment, computed by a first pass over a
/// copy of the connection's generator (the same draws the second pass writes), so rendering still allocates
/// nothing.
public struct RequestTemplate: Sendable {
    /// One piece of a request with placeholders.
    public enum Segment: Sendable, Equatable {
        /// Bytes copied as they are.
        case literal([UInt8])
        /// `{n}`.
        case sequence
        /// `{rand:N}` with its bound `N` (≥ 1).
        case random(UInt64)
        /// The decimal length of the rendered body (the segments after this one), for a body with placeholders.
        case contentLength
    }

    /// The request as segments (one `.literal` when there are no placeholders).
    public let segments: [Segment]
    /// The full request when it has no placeholders.
    public let staticBytes: ByteBuffer?
    /// An upper bound on the rendered size, for reserving the reused buffer.
    public let maximumSize: Int
    /// Whether the body holds placeholders (then the Content-Length value is computed per request).
    let hasContentLength: Bool
    /// The head's bytes after the Content-Length value (counted by the length pass, then taken off).
    let headTail: Int

    /// Encodes the request for `options`.
    /// - Parameter options: method, URL, headers, body, proxy, keep-alive.
    public init(options: LoadOptions) {
        let bodySegments = options.body.isEmpty ? [] : RequestTemplate.split(options.body, requestLineOnly: false)
        let bodyIsStatic = bodySegments.allSatisfy { if case .literal = $0 { true } else { false } }
        var segments: [Segment]
        var headTail = 0
        if bodyIsStatic {
            segments = RequestTemplate.split(RequestTemplate.head(options: options))
            if !options.body.isEmpty { segments.append(.literal(options.body)) }
        } else {
            // The head with a marker where the Content-Length value goes; the marker becomes `.contentLength`.
            let head = Array(RequestTemplate.head(options: options, contentLength: Self.lengthMarker).utf8)
            let marker = Array(Self.lengthMarker.utf8)
            let at = head.firstRange(of: marker)!.lowerBound
            segments = RequestTemplate.split(Array(head[..<at]), requestLineOnly: true)
            segments.append(.contentLength)
            segments.append(.literal(Array(head[(at + marker.count)...])))
            headTail = head.count - (at + marker.count)
            segments += bodySegments
        }
        segments = RequestTemplate.merged(segments)
        self.segments = segments
        hasContentLength = !bodyIsStatic
        self.headTail = headTail
        var size = 0
        for segment in segments {
            switch segment {
            case .literal(let bytes): size += bytes.count
            case .sequence, .random, .contentLength: size += 20
            }
        }
        maximumSize = size
        if segments.count == 1, case .literal(let bytes) = segments[0] {
            var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            staticBytes = buffer
        } else {
            staticBytes = nil
        }
    }

    /// Stands for the Content-Length value of a body with placeholders while the head is encoded.
    private static let lengthMarker = "\u{0}length\u{0}"

    /// Whether the request target holds placeholders.
    public var hasPlaceholders: Bool { staticBytes == nil }

    /// Renders request number `sequence` into `buffer` (cleared first; no allocation once it has grown).
    /// - Parameters:
    ///   - sequence: the value of `{n}`.
    ///   - random: the connection's generator for `{rand:N}`.
    ///   - buffer: the reused output buffer.
    public func render(sequence: Int, random: inout SplitMix64, into buffer: inout ByteBuffer) {
        buffer.clear()
        var bodyLength = 0
        if hasContentLength {
            // First pass on a copy of the generator: the draws the second pass makes, in the same order.
            var probe = random
            var counting = false
            bodyLength = -headTail
            for segment in segments {
                switch segment {
                case .literal(let bytes):
                    if counting { bodyLength += bytes.count }
                case .sequence:
                    if counting { bodyLength += RequestTemplate.decimalDigits(UInt64(sequence)) }
                case .random(let bound):
                    let value = probe.next(below: bound)
                    if counting { bodyLength += RequestTemplate.decimalDigits(value) }
                case .contentLength:
                    counting = true
                }
            }
        }
        for segment in segments {
            switch segment {
            case .literal(let bytes):
                buffer.writeBytes(bytes)
            case .sequence:
                RequestTemplate.writeDecimal(UInt64(sequence), into: &buffer)
            case .random(let bound):
                RequestTemplate.writeDecimal(random.next(below: bound), into: &buffer)
            case .contentLength:
                RequestTemplate.writeDecimal(UInt64(bodyLength), into: &buffer)
            }
        }
    }

    /// The number of decimal digits of `value`.
    static func decimalDigits(_ value: UInt64) -> Int {
        var v = value
        var count = 1
        while v >= 10 {
            v /= 10
            count += 1
        }
        return count
    }

    /// Writes `value` in decimal without allocating.
    static func writeDecimal(_ value: UInt64, into buffer: inout ByteBuffer) {
        var v = value
        var tmp:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &tmp) { raw in
            repeat {
                raw[19 - count] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
                count += 1
            } while v != 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(20 - count)...]))
        }
    }

    /// The request line and headers (ending with the empty line), placeholders still in place.
    /// - Parameters:
    ///   - options: the request's options.
    ///   - contentLength: the Content-Length value to write (the body's length when nil).
    static func head(options: LoadOptions, contentLength: String? = nil) -> String {
        let url = options.url
        let target: String
        if options.proxy != nil {
            target = "http://\(url.hostHeader)\(url.pathAndQuery)"
        } else {
            target = url.pathAndQuery
        }
        // Header order as Go sends them: Host, User-Agent, Content-Length, the rest, Accept-Encoding last.
        var host = options.hostOverride ?? url.hostHeader
        var userAgent = options.userAgent ?? "loadgen/\(LoadGenVersion.string)"
        var contentType = options.contentType
        var accept = options.accept
        var extra: [(String, String)] = []
        for (name, value) in options.headers {
            switch name.lowercased() {
            case "host": host = value
            case "user-agent": userAgent = value
            case "content-type": contentType = value
            case "accept": accept = value
            default:
                if let i = extra.firstIndex(where: { $0.0.lowercased() == name.lowercased() }) {
                    extra[i] = (name, value)
                } else {
                    extra.append((name, value))
                }
            }
        }
        if let hostOverride = options.hostOverride { host = hostOverride }
        var text = "\(options.method) \(target) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: \(userAgent)\r\n"
        if !options.body.isEmpty || ["POST", "PUT", "PATCH"].contains(options.method) {
            text += "Content-Length: \(contentLength ?? String(options.body.count))\r\n"
        }
        text += "Content-Type: \(contentType)\r\n"
        if let accept { text += "Accept: \(accept)\r\n" }
        if let auth = options.basicAuth {
            text += "Authorization: Basic \(Base64.encode(Array("\(auth.user):\(auth.password)".utf8)))\r\n"
        }
        for (name, value) in extra { text += "\(name): \(value)\r\n" }
        if options.disableKeepAlive { text += "Connection: close\r\n" }
        if !options.disableCompression { text += "Accept-Encoding: gzip\r\n" }
        text += "\r\n"
        return text
    }

    /// Splits the request head at `{n}` and `{rand:N}` (only the request line can hold them).
    static func split(_ head: String) -> [Segment] {
        split(Array(head.utf8), requestLineOnly: true)
    }

    /// Splits `bytes` at `{n}` and `{rand:N}`; any other `{…}` stays literal.
    /// - Parameters:
    ///   - bytes: a request head or a body.
    ///   - requestLineOnly: look for placeholders only before the first CR (a head's request line).
    static func split(_ bytes: [UInt8], requestLineOnly: Bool) -> [Segment] {
        let lineEnd = requestLineOnly ? (bytes.firstIndex(of: UInt8(ascii: "\r")) ?? bytes.count) : bytes.count
        var segments: [Segment] = []
        var literal: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if i < lineEnd, bytes[i] == UInt8(ascii: "{"),
                let close = bytes[i..<lineEnd].firstIndex(of: UInt8(ascii: "}"))
            {
                let name = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
                var placeholder: Segment?
                if name == "n" {
                    placeholder = .sequence
                } else if name.hasPrefix("rand:"), let bound = UInt64(name.dropFirst(5)), bound >= 1 {
                    placeholder = .random(bound)
                }
                if let placeholder {
                    if !literal.isEmpty { segments.append(.literal(literal)) }
                    literal = []
                    segments.append(placeholder)
                    i = close + 1
                    continue
                }
            }
            literal.append(bytes[i])
            i += 1
        }
        if !literal.isEmpty || segments.isEmpty { segments.append(.literal(literal)) }
        return segments
    }

    /// Joins neighbouring literals (and drops empty ones between other segments).
    static func merged(_ segments: [Segment]) -> [Segment] {
        var out: [Segment] = []
        for segment in segments {
            if case .literal(let bytes) = segment {
                if bytes.isEmpty && segments.count > 1 { continue }
                if case .literal(let previous)? = out.last {
                    out[out.count - 1] = .literal(previous + bytes)
                    continue
                }
            }
            out.append(segment)
        }
        return out.isEmpty ? [.literal([])] : out
    }
}
