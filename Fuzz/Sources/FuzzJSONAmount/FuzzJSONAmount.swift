import CLibFuzzer
import Foundation
import HTTPFront

/// libFuzzer entry: the increment body parser (`JSONAmountParser.parse`).
///
/// Property: it agrees with Foundation's `JSONSerialization` on what is valid JSON, and on the amount where
/// Foundation reads it exactly. Known, intended differences are let through (the same ones the unit test allows):
/// Foundation accepts a trailing comma, nesting deeper than 64 levels and anything after a NUL byte, and refuses
/// numbers beyond its range; it reads `1e2` or `5.0` as integral
/// numbers, which the parser refuses as amounts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONAmount(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let mine = JSONAmountParser.parse(bytes)
    guard !bytes.isEmpty else {
        precondition(mine == .amount(1), "an empty body means 1")
        return 0
    }
    // A raw NUL is never valid JSON (outside strings it is not whitespace, inside them it must be escaped), but
    // swift-corelibs-foundation's JSONSerialization ends the document at a NUL and accepts "9\0garbage" (found by
    // this harness): such inputs are held to the RFC alone.
    if bytes.contains(0) {
        guard case .invalidJSON = mine else { preconditionFailure("accepted a raw NUL as \(mine)") }
        return 0
    }
    let text = String(decoding: bytes, as: UTF8.self)
    switch (mine, foundationVerdict(bytes)) {
    case (.invalidJSON, nil), (.invalidAmount, .invalidAmount?):
        break
    case (.invalidJSON(let reason), .some):
        let squeezed = text.filter { !$0.isWhitespace }
        let lenient =
            squeezed.contains(",}") || squeezed.contains(",]") || nestingDepth(bytes) > JSONAmountParser.maxDepth
        precondition(lenient, "refused valid JSON \(text.debugDescription): \(reason)")
    case (_, nil):
        // RFC 8259 puts no bound on a number; Foundation refuses one it cannot represent ("77.777e787", 400 digits:
        // found by this harness). Excused only when the same document with its numbers zeroed is valid for it.
        precondition(
            foundationVerdict(withNumbersZeroed(bytes)) != nil,
            "accepted invalid JSON \(text.debugDescription) as \(mine)")
    case (.amount(let value), .amount(let expected)?):
        precondition(value == expected, "\(text.debugDescription): \(value) vs Foundation's \(expected)")
    case (.invalidAmount, .amount?), (.amount, .invalidAmount?):
        precondition(
            text.contains("e") || text.contains("E") || text.contains("."),
            "\(text.debugDescription): \(mine) vs Foundation's verdict")
    default:
        preconditionFailure("unexpected pair for \(text.debugDescription)")
    }
    return 0
}

/// What Foundation makes of a body, in the parser's terms (nil: invalid JSON).
func foundationVerdict(_ bytes: [UInt8]) -> JSONAmountParser.Result? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
        return nil
    }
    guard let dictionary = object as? [String: Any] else { return .invalidAmount("") }
    guard let amount = dictionary["amount"] else { return .amount(1) }
    guard let data = try? JSONSerialization.data(withJSONObject: [amount]),
        let encoded = String(data: data, encoding: .utf8)
    else { return .invalidAmount("") }
    if let value = Int(encoded.dropFirst().dropLast()), value > 0 { return .amount(value) }
    return .invalidAmount("")
}

/// The bytes with every number literal that RFC 8259's grammar accepts (outside strings) replaced by `0`, so that
/// Foundation judges the structure alone, not whether it can represent the numbers.
func withNumbersZeroed(_ bytes: [UInt8]) -> [UInt8] {
    let numberBytes = Set(Array("-+.eE0123456789".utf8))
    let grammar = try! Regex("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")
    var out: [UInt8] = []
    var index = 0
    var inString = false
    var escaped = false
    while index < bytes.count {
        let byte = bytes[index]
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            out.append(byte)
            index += 1
            continue
        }
        if byte == UInt8(ascii: "\"") { inString = true }
        guard numberBytes.contains(byte) else {
            out.append(byte)
            index += 1
            continue
        }
        var end = index
        while end < bytes.count && numberBytes.contains(bytes[end]) { end += 1 }
        let run = String(decoding: bytes[index..<end], as: UTF8.self)
        if (try? grammar.wholeMatch(in: run)) != nil {
            out.append(UInt8(ascii: "0"))
        } else {
            out += bytes[index..<end]
        }
        index = end
    }
    return out
}

/// The deepest nesting of `[`/`{` outside strings (approximate for invalid documents).
func nestingDepth(_ bytes: [UInt8]) -> Int {
    var depth = 0
    var deepest = 0
    var inString = false
    var escaped = false
    for byte in bytes {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            depth += 1
            deepest = max(deepest, depth)
        case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
        default: break
        }
    }
    return deepest
}

/// The process entry: SwiftPM links a debug executable's `main` to `FuzzJSONAmount_main`; it hands the arguments to
/// libFuzzer's driver.
@_cdecl("FuzzJSONAmount_main")
public func fuzzJSONAmountMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzJSONAmount(data, size) }
}
