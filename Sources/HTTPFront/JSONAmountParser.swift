/// A strict, allocation-free parser for the increment body `{"amount": N}`.
///
/// The whole body must be valid JSON (RFC 8259: no trailing commas, no comments, no leading zeros, strings with
/// valid escapes and valid UTF-8, no control characters, at most 64 levels of nesting); otherwise the result is
/// ``Result/invalidJSON(_:)`` (answered with 400). A valid document is then checked for its meaning (answered
/// with 422 when wrong):
///
/// - an empty body (zero bytes) means amount 1, and so does an object without an `"amount"` member;
/// - the document must be an object; members other than `"amount"` are ignored; when `"amount"` occurs more
///   than once the last one counts (as Foundation and Go decode it);
/// - `"amount"` must be an integer literal (no fraction, no exponent) from 1 to `Int.max`: zero and negative
///   amounts are refused (a counter that only counts up), and so are `null`, strings, booleans and floats.
public enum JSONAmountParser {
    /// The verdict on a body.
    public enum Result: Sendable, Equatable {
        /// The amount to add.
        case amount(Int)
        /// The body is not valid JSON (400); the reason says where.
        case invalidJSON(String)
        /// The body is valid JSON but not an acceptable increment (422).
        case invalidAmount(String)
    }

    /// The largest nesting depth accepted.
    public static let maxDepth = 64

    /// Parses a body.
    /// - Parameter body: the request body.
    /// - Returns: the amount, or why the body was refused.
    public static func parse(_ body: UnsafeRawBufferPointer) -> Result {
        if body.isEmpty { return .amount(1) }
        var scanner = Scanner(bytes: body)
        scanner.skipWhitespace()
        guard scanner.position < body.count else { return .invalidJSON("empty document") }
        let topLevelIsObject = body[scanner.position] == UInt8(ascii: "{")
        var verdict: Result = .amount(1)
        let syntaxError = withUnsafeMutablePointer(to: &verdict) { pointer in
            scanner.parseValue(depth: 0, amountVerdict: topLevelIsObject ? pointer : nil)
        }
        if let error = syntaxError {
            return .invalidJSON(error)
        }
        scanner.skipWhitespace()
        if scanner.position != body.count { return .invalidJSON("unexpected data after the document") }
        if !topLevelIsObject { return .invalidAmount("body must be a JSON object like {\"amount\": 5}") }
        return verdict
    }

    /// Parses a body held in an array (tests and tools).
    public static func parse(_ body: [UInt8]) -> Result {
        body.withUnsafeBytes { parse($0) }
    }

    /// What the scanner saw for one `"amount"` value.
    enum AmountToken {
        case integer(Int)
        case negativeOrZero
        case outOfRange
        case notInteger
    }

    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func skipWhitespace() {
            while position < bytes.count {
                let byte = bytes[position]
                guard byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D else { return }
                position += 1
            }
        }

        /// Parses one value; returns an error message or nil. When `amountVerdict` is given the value must be an
        /// object, and its `"amount"` member's verdict is stored there.
        mutating func parseValue(depth: Int, amountVerdict: UnsafeMutablePointer<Result>?) -> String? {
            guard depth < JSONAmountParser.maxDepth else { return "nesting deeper than \(JSONAmountParser.maxDepth)" }
            skipWhitespace()
            guard position < bytes.count else { return "unexpected end of input" }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                return parseObject(depth: depth, amountVerdict: amountVerdict)
            case UInt8(ascii: "["):
                position += 1
                skipWhitespace()
                if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return nil
                }
                while true {
                    if let error = parseValue(depth: depth + 1, amountVerdict: nil) { return error }
                    skipWhitespace()
                    guard position < bytes.count else { return "unexpected end of input in array" }
                    if bytes[position] == UInt8(ascii: ",") {
                        position += 1
                        continue
                    }
                    if bytes[position] == UInt8(ascii: "]") {
                        position += 1
                        return nil
                    }
                    return "expected ',' or ']' at offset \(position)"
                }
            case UInt8(ascii: "\""):
                return parseString(isAmountKey: nil)
            case UInt8(ascii: "t"):
                return parseLiteral("true")
            case UInt8(ascii: "f"):
                return parseLiteral("false")
            case UInt8(ascii: "n"):
                return parseLiteral("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var token = AmountToken.notInteger
                return parseNumber(&token)
            default:
                return "unexpected character at offset \(position)"
            }
        }

        mutating func parseObject(depth: Int, amountVerdict: UnsafeMutablePointer<Result>?) -> String? {
            position += 1
            skipWhitespace()
            if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
                position += 1
                return nil
            }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    return "expected a member name at offset \(position)"
                }
                var isAmount = false
                if let error = parseString(isAmountKey: &isAmount) { return error }
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                    return "expected ':' at offset \(position)"
                }
                position += 1
                skipWhitespace()
                if isAmount, let amountVerdict {
                    guard position < bytes.count else { return "unexpected end of input" }
                    let first = bytes[position]
                    if first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) {
                        var token = AmountToken.notInteger
                        if let error = parseNumber(&token) { return error }
                        switch token {
                        case .integer(let value): amountVerdict.pointee = .amount(value)
                        case .negativeOrZero:
                            amountVerdict.pointee = .invalidAmount("amount must be a positive integer")
                        case .outOfRange: amountVerdict.pointee = .invalidAmount("amount is too large")
                        case .notInteger: amountVerdict.pointee = .invalidAmount("amount must be an integer")
                        }
                    } else {
                        if let error = parseValue(depth: depth + 1, amountVerdict: nil) { return error }
                        amountVerdict.pointee = .invalidAmount("amount must be an integer")
                    }
                } else {
                    if let error = parseValue(depth: depth + 1, amountVerdict: nil) { return error }
                }
                skipWhitespace()
                guard position < bytes.count else { return "unexpected end of input in object" }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                if bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return nil
                }
                return "expected ',' or '}' at offset \(position)"
            }
        }

        mutating func parseLiteral(_ literal: StaticString) -> String? {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - position >= count else { return "unexpected end of input" }
            for index in 0..<count where bytes[position + index] != literal.utf8Start[index] {
                return "invalid literal at offset \(position)"
            }
            position += count
            return nil
        }

        /// Parses a number; classifies it as an amount.
        mutating func parseNumber(_ token: inout AmountToken) -> String? {
            let start = position
            var negative = false
            if bytes[position] == UInt8(ascii: "-") {
                negative = true
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else { return "invalid number at offset \(start)" }
            var value = 0
            var overflow = false
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
                if position < bytes.count && isDigit(bytes[position]) {
                    return "leading zero in number at offset \(start)"
                }
            } else {
                while position < bytes.count && isDigit(bytes[position]) {
                    let (times, o1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times.addingReportingOverflow(Int(bytes[position] - 0x30))
                    if o1 || o2 { overflow = true } else { value = sum }
                    position += 1
                }
            }
            var integral = true
            if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
                integral = false
                position += 1
                guard position < bytes.count, isDigit(bytes[position]) else {
                    return "invalid fraction at offset \(start)"
                }
                while position < bytes.count && isDigit(bytes[position]) { position += 1 }
            }
            if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E"))
            {
                integral = false
                position += 1
                if position < bytes.count
                    && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-"))
                {
                    position += 1
                }
                guard position < bytes.count, isDigit(bytes[position]) else {
                    return "invalid exponent at offset \(start)"
                }
                while position < bytes.count && isDigit(bytes[position]) { position += 1 }
            }
            if !integral {
                token = .notInteger
            } else if negative || value == 0 {
                token = overflow ? .outOfRange : .negativeOrZero
                if negative { token = .negativeOrZero }
            } else if overflow {
                token = .outOfRange
            } else {
                token = .integer(value)
            }
            return nil
        }

        /// Parses a string; validates escapes, control characters and UTF-8. When `isAmountKey` is given, stores
        /// whether the decoded string is exactly `amount`.
        mutating func parseString(isAmountKey: UnsafeMutablePointer<Bool>?) -> String? {
            let start = position
            position += 1
            var escaped = false
            while true {
                guard position < bytes.count else { return "unterminated string at offset \(start)" }
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    position += 1
                    break
                }
                if byte < 0x20 { return "control character in string at offset \(position)" }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    position += 1
                    guard position < bytes.count else { return "unterminated string at offset \(start)" }
                    switch bytes[position] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        position += 1
                    case UInt8(ascii: "u"):
                        position += 1
                        guard let unit = readHex4() else { return "invalid \\u escape at offset \(position)" }
                        if unit >= 0xD800 && unit <= 0xDBFF {
                            guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                                bytes[position + 1] == UInt8(ascii: "u")
                            else { return "unpaired surrogate at offset \(position)" }
                            position += 2
                            guard let low = readHex4(), low >= 0xDC00 && low <= 0xDFFF else {
                                return "unpaired surrogate at offset \(position)"
                            }
                        } else if unit >= 0xDC00 && unit <= 0xDFFF {
                            return "unpaired surrogate at offset \(position)"
                        }
                    default:
                        return "invalid escape at offset \(position)"
                    }
                    continue
                }
                if byte < 0x80 {
                    position += 1
                    continue
                }
                guard let length = validUTF8Sequence(at: position) else { return "invalid UTF-8 at offset \(position)" }
                position += length
            }
            if let isAmountKey {
                let contents = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(position - 1)])
                isAmountKey.pointee = escaped ? decodedEqualsAmount(contents) : contents.elementsEqual("amount".utf8)
            }
            return nil
        }

        mutating func readHex4() -> UInt32? {
            guard bytes.count - position >= 4 else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - 0x30)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - 0x61 + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - 0x41 + 10)
                default: return nil
                }
                value = value << 4 | digit
                position += 1
            }
            return value
        }

        /// The length of the valid UTF-8 sequence starting at `index` (lead byte ≥ 0x80), or nil.
        func validUTF8Sequence(at index: Int) -> Int? {
            let lead = bytes[index]
            let length: Int
            var lowerBound: UInt8 = 0x80
            var upperBound: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                lowerBound = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                upperBound = 0x9F
            case 0xF0:
                length = 4
                lowerBound = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                upperBound = 0x8F
            default: return nil
            }
            guard bytes.count - index >= length else { return nil }
            let second = bytes[index + 1]
            guard second >= lowerBound && second <= upperBound else { return nil }
            for offset in 2..<max(2, length) where bytes[index + offset] & 0xC0 != 0x80 {
                return nil
            }
            return length
        }

        /// Whether an escaped key decodes to `amount` (only `\uXXXX` escapes of ASCII letters can).
        func decodedEqualsAmount(_ contents: UnsafeRawBufferPointer) -> Bool {
            let expected = Array("amount".utf8)
            var matched = 0
            var index = 0
            while index < contents.count {
                var byte = contents[index]
                if byte == UInt8(ascii: "\\") {
                    let kind = contents[index + 1]
                    if kind != UInt8(ascii: "u") { return false }  // none of \" \\ \/ \b … is in "amount"
                    var scanner = Scanner(bytes: contents, position: index + 2)
                    guard let unit = scanner.readHex4(), unit < 0x80 else { return false }
                    byte = UInt8(unit)
                    index += 6
                } else {
                    index += 1
                }
                guard matched < expected.count, expected[matched] == byte else { return false }
                matched += 1
            }
            return matched == expected.count
        }
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }
