import NIOCore

/// Writes response heads from pre-encoded fragments.
enum HTTPResponseEncoder {
    /// Pre-encoded status lines for the codes of ``HTTPStatus/counted`` (index by counter slot). A 503 carries
    /// `Retry-After: 1`: every 503 the services send means "certainly not applied, try again" (a request whose
    /// outcome is unknown is a 504), so the header belongs to the status itself.
    static let statusLines: [[UInt8]] = HTTPStatus.counted.map { code in
        Array(
            "HTTP/1.1 \(code) \(HTTPStatus(code: code).reasonPhrase)\r\n\(code == 503 ? "Retry-After: 1\r\n" : "")".utf8
        )
    }

    /// Status line, `Content-Type` line and `Content-Length: ` for every counted status and media type, as one
    /// piece each: the head of a keep-alive answer without `Allow` is one copy, the length and the blank line.
    static let keepAlivePrefixes: [[UInt8]] = HTTPStatus.counted.flatMap { code in
        HTTPContentType.allCases.map { type in
            statusLines[HTTPStatus(code: code).counterIndex] + type.headerLine.withUTF8Buffer { Array($0) }
                + Array("Content-Length: ".utf8)
        }
    }

    /// Appends a status line, the headers and the empty line.
    /// - Parameters:
    ///   - output: the connection's output buffer.
    ///   - status: the status.
    ///   - contentType: the media type.
    ///   - contentLength: the body length.
    ///   - keepAlive: whether the connection stays open (for HTTP/1.0 clients `Connection: keep-alive` is sent).
    ///   - http10: whether the request was HTTP/1.0.
    ///   - allow: an `Allow` header value, or nil.
    static func writeHead(
        into output: inout ByteBuffer, status: HTTPStatus, contentType: HTTPContentType, contentLength: Int,
        keepAlive: Bool, http10: Bool, allow: String?
    ) {
        let index = status.counterIndex
        if keepAlive && !http10 && allow == nil && index < statusLines.count && contentLength >= 0 {
            // The common case in one write: prefix, decimal length, blank line.
            let prefix = keepAlivePrefixes[index &* HTTPContentType.allCases.count &+ contentType.index]
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: prefix.count + 24) { raw in
                prefix.withUnsafeBytes { raw.copyMemory(from: $0) }
                var position = prefix.count
                position += writeDecimalDigits(contentLength, to: raw.baseAddress! + position)
                raw.storeBytes(of: 0x0A0D_0A0D as UInt32, toByteOffset: position, as: UInt32.self)
                return position + 4
            }
            return
        }
        if index < statusLines.count {
            output.writeBytes(statusLines[index])
        } else {
            output.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n")
            if status.code == 503 { output.writeStaticString("Retry-After: 1\r\n") }
        }
        output.writeStaticString(contentType.headerLine)
        if let allow {
            output.writeStaticString("Allow: ")
            output.writeString(allow)
            output.writeStaticString("\r\n")
        }
        if !keepAlive {
            output.writeStaticString("Connection: close\r\n")
        } else if http10 {
            output.writeStaticString("Connection: keep-alive\r\n")
        }
        output.writeStaticString("Content-Length: ")
        output.writeDecimal(contentLength)
        output.writeStaticString("\r\n\r\n")
    }
}

extension ByteBuffer {
    /// Appends the decimal digits of `value` (with a leading '-' when negative), without allocating.
    /// - Parameter value: the number.
    @inlinable
    public mutating func writeDecimal(_ value: Int) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: 20) { raw in writeDecimalDigits(value, to: raw.baseAddress!) }
    }

    /// Appends `prefix`, `string` as a JSON string literal, `infix`, the decimal `value` and `suffix`, in one write:
    /// the shape of a hot-path answer such as `{"counter_id":"…","value":N}` (one capacity check and one copy
    /// per piece instead of one buffer call per piece).
    /// - Parameters:
    ///   - prefix: raw JSON before the string (written as is).
    ///   - string: escaped and quoted.
    ///   - infix: raw JSON between the string and the number.
    ///   - value: written in decimal.
    ///   - suffix: raw JSON after the number.
    public mutating func writeJSON(
        _ prefix: StaticString, string: String, _ infix: StaticString, int value: Int, _ suffix: StaticString
    ) {
        writeJSON(prefix, string: string, infix, int: value, then: nil, suffix)
    }

    /// ``writeJSON(_:string:_:int:_:)`` with a second number: the shape of `{"account_id":"…","balance":B,"version":V}`
    /// (one buffer call instead of three: the two static strings and the decimal written after it cost ~600
    /// instructions per answer under callgrind).
    /// - Parameters:
    ///   - prefix: raw JSON before the string (written as is).
    ///   - string: escaped and quoted.
    ///   - infix: raw JSON between the string and the first number.
    ///   - value: written in decimal.
    ///   - infix2: raw JSON between the two numbers.
    ///   - value2: written in decimal.
    ///   - suffix: raw JSON after the second number.
    public mutating func writeJSON(
        _ prefix: StaticString, string: String, _ infix: StaticString, int value: Int, _ infix2: StaticString,
        int value2: Int, _ suffix: StaticString
    ) {
        writeJSON(prefix, string: string, infix, int: value, then: (infix2, value2), suffix)
    }

    /// The body of both: `prefix "string" infix value [infix2 value2] suffix` in one buffer call.
    private mutating func writeJSON(
        _ prefix: StaticString, string: String, _ infix: StaticString, int value: Int,
        then second: (infix: StaticString, value: Int)?, _ suffix: StaticString
    ) {
        var text = string
        text.withUTF8 { utf8 in
            // Worst case: every byte escaped as \u00XX (6 bytes), 20 digits and a sign per number.
            let bound =
                prefix.utf8CodeUnitCount + 2 + utf8.count * 6 + infix.utf8CodeUnitCount + 21
                + (second.map { $0.infix.utf8CodeUnitCount + 21 } ?? 0) + suffix.utf8CodeUnitCount
            writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { raw in
                var position = 0
                func copy(_ piece: StaticString) {
                    (raw.baseAddress! + position).copyMemory(from: piece.utf8Start, byteCount: piece.utf8CodeUnitCount)
                    position += piece.utf8CodeUnitCount
                }
                copy(prefix)
                raw[position] = UInt8(ascii: "\"")
                position += 1
                JSONWriter.escape(utf8) { chunk in
                    (raw.baseAddress! + position).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
                    position += chunk.count
                }
                raw[position] = UInt8(ascii: "\"")
                position += 1
                copy(infix)
                position += writeDecimalDigits(value, to: raw.baseAddress! + position)
                if let second {
                    copy(second.infix)
                    position += writeDecimalDigits(second.value, to: raw.baseAddress! + position)
                }
                copy(suffix)
                return position
            }
        }
    }

    /// Appends `string` as a JSON string: quoted, with `"`, `\` and control characters escaped.
    /// - Parameter string: the text.
    @inlinable
    public mutating func writeJSONString(_ string: String) {
        writeInteger(UInt8(ascii: "\""))
        var copy = string
        copy.withUTF8 { utf8 in
            JSONWriter.escape(utf8) { chunk in _ = writeBytes(chunk) }
        }
        writeInteger(UInt8(ascii: "\""))
    }
}

/// Writes the decimal digits of `value` (a leading '-' when negative) at `destination`, which must have room for
/// 20 bytes; the one digit writer of the response encoder.
/// - Returns: how many bytes it wrote.
@inlinable
func writeDecimalDigits(_ value: Int, to destination: UnsafeMutableRawPointer) -> Int {
    var magnitude = value.magnitude
    var position = 0
    if value < 0 {
        destination.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self)
        position = 1
    }
    var digits = 1
    var scale: UInt = 10
    while digits < 20 && magnitude >= scale {
        digits += 1
        let (next, overflow) = scale.multipliedReportingOverflow(by: 10)
        if overflow { break }
        scale = next
    }
    var at = position + digits
    repeat {
        at -= 1
        destination.storeBytes(of: UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30, toByteOffset: at, as: UInt8.self)
        magnitude /= 10
    } while magnitude > 0
    return position + digits
}
