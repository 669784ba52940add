/// A strict parser for the API's request bodies: one JSON object whose members are read as strings or integers.
///
/// The whole document must be valid JSON (RFC 8259; nesting up to 32 levels): otherwise ``Result/invalid(_:)``
/// (400). Members are kept by name (the last one wins); values that are not strings or integers are kept as
/// ``Value/other`` so that the caller can answer 422 for them.
struct RequestBody {
    /// A member's value.
    enum Value: Equatable {
        case string(String)
        /// An integer literal that fits in Int64.
        case integer(Int64)
        /// An integer literal outside Int64.
        case integerOutOfRange
        /// Anything else: fraction, exponent, boolean, null, array, object.
        case other
    }

    enum Result: Equatable {
        case object([String: Value])
        /// Valid JSON that is not an object.
        case notObject
        case invalid(String)
    }

    static let maxDepth = 32

    static func parse(_ bytes: UnsafeRawBufferPointer) -> Result {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        guard parser.position < bytes.count else { return .invalid("empty document") }
        let isObject = bytes[parser.position] == UInt8(ascii: "{")
        var members: [String: Value] = [:]
        do throws(ParseError) {
            if isObject {
                try parser.parseObject(depth: 0, members: &members)
            } else {
                _ = try parser.parseValue(depth: 0)
            }
            parser.skipWhitespace()
            if parser.position != bytes.count { throw ParseError("unexpected data after the document") }
        } catch {
            return .invalid(error.reason)
        }
        return isObject ? .object(members) : .notObject
    }

    static func parse(_ bytes: [UInt8]) -> Result { bytes.withUnsafeBytes { parse($0) } }

    /// The fast path of the commands' bodies: `{"<field>": N}` with only that member, N a non-negative integer
    /// literal of at most 18 digits (whitespace allowed where JSON allows it). Returns N, or nil for any other
    /// document, which then goes through ``parse(_:)`` (so the answer is the same either way: a document this
    /// accepts is valid JSON whose only member is that integer). No allocation, no dictionary.
    static func singleInteger(_ bytes: UnsafeRawBufferPointer, field: StaticString) -> Int64? {
        var i = 0
        let n = bytes.count
        func skip() {
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }
        skip()
        guard i < n, bytes[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        skip()
        guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        // The name's bytes as a static buffer: iterating a `String`'s UTF-8 view cost ~250 instructions a body.
        let name = UnsafeRawBufferPointer(start: field.utf8Start, count: field.utf8CodeUnitCount)
        guard n - i >= name.count else { return nil }
        for byte in name {
            guard bytes[i] == byte else { return nil }
            i += 1
        }
        guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        skip()
        guard i < n, bytes[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        skip()
        let start = i
        var value: Int64 = 0
        while i < n, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            value = value &* 10 &+ Int64(bytes[i] &- UInt8(ascii: "0"))
            i += 1
        }
        let digits = i - start
        // No digits, a leading zero before more digits (invalid JSON), or more digits than surely fit: full parser.
        guard digits >= 1, digits <= 18, !(digits > 1 && bytes[start] == UInt8(ascii: "0")) else { return nil }
        skip()
        guard i < n, bytes[i] == UInt8(ascii: "}") else { return nil }
        i += 1
        skip()
        return i == n ? value : nil
    }

    struct ParseError: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    struct Parser {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        func peek() throws(ParseError) -> UInt8 {
            guard position < bytes.count else { throw ParseError("unexpected end of document") }
            return bytes[position]
        }

        mutating func expect(_ byte: UInt8) throws(ParseError) {
            guard try peek() == byte else {
                throw ParseError("expected '\(Character(Unicode.Scalar(byte)))' at byte \(position)")
            }
            position += 1
        }

        mutating func parseObject(depth: Int, members: inout [String: Value]) throws(ParseError) {
            guard depth < RequestBody.maxDepth else { throw ParseError("nesting deeper than \(RequestBody.maxDepth)") }
            try expect(UInt8(ascii: "{"))
            skipWhitespace()
            if try peek() == UInt8(ascii: "}") {
                position += 1
                return
            }
            while true {
                skipWhitespace()
                let name = try parseString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                members[name] = try parseValue(depth: depth + 1)
                skipWhitespace()
                let byte = try peek()
                position += 1
                if byte == UInt8(ascii: "}") { return }
                guard byte == UInt8(ascii: ",") else { throw ParseError("expected ',' or '}' at byte \(position - 1)") }
            }
        }

        mutating func parseValue(depth: Int) throws(ParseError) -> Value {
            guard depth <= RequestBody.maxDepth else { throw ParseError("nesting deeper than \(RequestBody.maxDepth)") }
            switch try peek() {
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "{"):
                var ignored: [String: Value] = [:]
                try parseObject(depth: depth, members: &ignored)
                return .other
            case UInt8(ascii: "["):
                position += 1
                skipWhitespace()
                if try peek() == UInt8(ascii: "]") {
                    position += 1
                    return .other
                }
                while true {
                    skipWhitespace()
                    _ = try parseValue(depth: depth + 1)
                    skipWhitespace()
                    let byte = try peek()
                    position += 1
                    if byte == UInt8(ascii: "]") { return .other }
                    guard byte == UInt8(ascii: ",") else { throw ParseError("expected ',' or ']'") }
                }
            case UInt8(ascii: "t"):
                try literal("true")
                return .other
            case UInt8(ascii: "f"):
                try literal("false")
                return .other
            case UInt8(ascii: "n"):
                try literal("null")
                return .other
            default:
                return try parseNumber()
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let count = word.utf8CodeUnitCount
            guard position + count <= bytes.count else { throw ParseError("invalid literal") }
            for index in 0..<count where bytes[position + index] != word.utf8Start[index] {
                throw ParseError("invalid literal")
            }
            position += count
        }

        mutating func parseNumber() throws(ParseError) -> Value {
            let negative = try peek() == UInt8(ascii: "-")
            if negative { position += 1 }
            let digitsStart = position
            while position < bytes.count && bytes[position] &- 0x30 < 10 { position += 1 }
            let digits = position - digitsStart
            guard digits > 0 else { throw ParseError("invalid value at byte \(digitsStart)") }
            if digits > 1 && bytes[digitsStart] == UInt8(ascii: "0") { throw ParseError("leading zero in a number") }
            var integral = true
            if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
                integral = false
                position += 1
                let start = position
                while position < bytes.count && bytes[position] &- 0x30 < 10 { position += 1 }
                guard position > start else { throw ParseError("digit expected after '.'") }
            }
            if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
                integral = false
                position += 1
                if position < bytes.count
                    && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-"))
                {
                    position += 1
                }
                let start = position
                while position < bytes.count && bytes[position] &- 0x30 < 10 { position += 1 }
                guard position > start else { throw ParseError("digit expected in exponent") }
            }
            guard integral else { return .other }
            // Accumulate negatively so that Int64.min fits.
            var value: Int64 = 0
            for index in digitsStart..<(digitsStart + digits) {
                let digit = Int64(bytes[index] &- 0x30)
                let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = times10.subtractingReportingOverflow(digit)
                if overflow1 || overflow2 { return .integerOutOfRange }
                value = next
            }
            if negative { return .integer(value) }
            if value == .min { return .integerOutOfRange }
            return .integer(-value)
        }

        mutating func parseString() throws(ParseError) -> String {
            try expect(UInt8(ascii: "\""))
            var utf8: [UInt8] = []
            while true {
                let byte = try peek()
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: utf8, as: UTF8.self) else {
                        throw ParseError("string is not valid UTF-8")
                    }
                    return text
                case UInt8(ascii: "\\"):
                    let escape = try peek()
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            try expect(UInt8(ascii: "\\"))
                            try expect(UInt8(ascii: "u"))
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw ParseError("unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw ParseError("unpaired surrogate")
                        }
                        utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                    default:
                        throw ParseError("invalid escape")
                    }
                case 0..<0x20:
                    throw ParseError("control character in a string")
                default:
                    utf8.append(byte)
                }
            }
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = try peek()
                position += 1
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - 0x30
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - 0x57
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - 0x37
                default: throw ParseError("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
    }
}
