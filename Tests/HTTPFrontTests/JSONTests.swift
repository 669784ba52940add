import Foundation
import NIOCore
import Testing

@testable import HTTPFront

@Suite("JSON amount parser and writer")
struct JSONTests {
    @Test(
        "the amount rule",
        arguments: [
            ("", JSONAmountParser.Result.amount(1)),
            ("{}", .amount(1)),
            (#"{"amount": 5}"#, .amount(5)),
            (#" { "amount" : 42 , "other": [1, {"a": null}] } "#, .amount(42)),
            (#"{"amount": 1, "amount": 7}"#, .amount(7)),
            (#"{"\u0061mount": 3}"#, .amount(3)),
            (#"{"amount": 9223372036854775807}"#, .amount(Int.max)),
            (#"{"amount": 0}"#, .invalidAmount("amount must be a positive integer")),
            (#"{"amount": -3}"#, .invalidAmount("amount must be a positive integer")),
            (#"{"amount": 9223372036854775808}"#, .invalidAmount("amount is too large")),
            (#"{"amount": 1.5}"#, .invalidAmount("amount must be an integer")),
            (#"{"amount": 1e3}"#, .invalidAmount("amount must be an integer")),
            (#"{"amount": "5"}"#, .invalidAmount("amount must be an integer")),
            (#"{"amount": null}"#, .invalidAmount("amount must be an integer")),
            (#"{"amount": true}"#, .invalidAmount("amount must be an integer")),
            ("[1]", .invalidAmount(#"body must be a JSON object like {"amount": 5}"#)),
            ("5", .invalidAmount(#"body must be a JSON object like {"amount": 5}"#)),
        ])
    func amountRule(body: String, expected: JSONAmountParser.Result) {
        #expect(JSONAmountParser.parse(Array(body.utf8)) == expected)
    }

    @Test(
        "invalid JSON is refused",
        arguments: [
            "{", "}", "{amount: 5}", #"{"amount": 05}"#, #"{"amount": 5,}"#, #"{"amount" 5}"#, #"{"amount": +5}"#,
            #"{"amount": 5} x"#, " ", #"{"a": "\x"}"#, "{\"a\": \"\u{01}\"}", #"{"a": tru}"#, #"{"a": "\ud800"}"#,
            #"{"amount": 1.}"#, #"{"amount": -}"#, #"{"a": [1,]}"#, "{'amount': 5}", #"{"amount": 5}}"#,
        ])
    func invalid(body: String) {
        guard case .invalidJSON = JSONAmountParser.parse(Array(body.utf8)) else {
            Issue.record("accepted \(body.debugDescription)")
            return
        }
    }

    @Test(
        "writeJSON in one write equals the piecewise writer, and Foundation reads it back",
        arguments: [
            "bench", "", "a\"b\\c", "tab\there\nnew", "\u{01}\u{1F}", "zürich/ключ/🔑",
            String(repeating: "x", count: 300),
        ])
    func fusedWriter(key: String) throws {
        for value in [0, 7, -7, 10, 99, 100, 12_345, Int.max, Int.min, 1_000_000_000_000_000_000] {
            var fused = ByteBuffer()
            fused.writeJSON(#"{"counter_id":"#, string: key, #","value":"#, int: value, "}")
            var piecewise = ByteBuffer()
            piecewise.writeStaticString(#"{"counter_id":"#)
            piecewise.writeJSONString(key)
            piecewise.writeStaticString(#","value":"#)
            piecewise.writeDecimal(value)
            piecewise.writeStaticString("}")
            #expect(fused == piecewise, "\(key) \(value)")
            let object = try JSONSerialization.jsonObject(with: Data(fused.readableBytesView)) as? [String: Any]
            #expect(object?["counter_id"] as? String == key)
            #expect((object?["value"] as? NSNumber)?.int64Value == Int64(value))
        }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        let body: [UInt8] = Array(#"{"a": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        guard case .invalidJSON = JSONAmountParser.parse(body) else {
            Issue.record("accepted invalid UTF-8")
            return
        }
    }

    /// Builds random JSON-ish documents: mostly valid, some corrupted by one byte.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }

        mutating func value(depth: Int) -> String {
            switch next() % (depth > 3 ? 5 : 7) {
            case 0: return pick(["0", "-1", "12", "3.25", "1e2", "-0.5E-3", "1000000"])
            case 1: return pick(["true", "false", "null"])
            case 2: return string()
            case 3: return pick(["\"amount\"", "\"\""])
            case 4: return String(next() % 1000)
            case 5: return "[" + (0..<Int(next() % 3)).map { _ in value(depth: depth + 1) }.joined(separator: ",") + "]"
            default: return object(depth: depth + 1)
            }
        }

        mutating func string() -> String {
            let pieces = ["a", "é", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00", "😀", " ", "\\\\", "\\/", "amount"]
            return "\"" + (0..<Int(next() % 4)).map { _ in pick(pieces) }.joined() + "\""
        }

        mutating func object(depth: Int) -> String {
            var keys = ["amount", "x", "y", "z", "a"].shuffled(using: &self)
            let count = Int(next() % 4)
            keys = Array(keys.prefix(count))
            let members = keys.map { key -> String in
                let value =
                    key == "amount" && next() % 2 == 0
                    ? pick(["1", "5", "0", "-2", "7.5", "100000"]) : value(depth: depth + 1)
                return "\"\(key)\"" + pick([":", " : ", ":\n"]) + value
            }
            return "{" + members.joined(separator: pick([",", ", "])) + "}"
        }

        mutating func corrupt(_ text: String) -> [UInt8] {
            var bytes = Array(text.utf8)
            guard !bytes.isEmpty else { return bytes }
            let index = Int(next() % UInt64(bytes.count))
            switch next() % 3 {
            case 0: bytes.remove(at: index)
            case 1: bytes.insert(pick(Array("{}[],:\"\\ x0-.e".utf8)), at: index)
            default: bytes[index] = pick(Array("{}[],:\"\\ x0-.e".utf8))
            }
            return bytes
        }
    }

    /// What Foundation makes of a body, in the parser's terms (nil: invalid JSON).
    static func foundationVerdict(_ bytes: [UInt8]) -> JSONAmountParser.Result? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
            return nil
        }
        guard let dictionary = object as? [String: Any] else { return .invalidAmount("") }
        guard let amount = dictionary["amount"] else { return .amount(1) }
        // Re-encode the value alone to see what Foundation read: "[5]", "[true]", "[\"5\"]", "[1.5]", "[null]"…
        guard let data = try? JSONSerialization.data(withJSONObject: [amount]),
            let encoded = String(data: data, encoding: .utf8)
        else { return .invalidAmount("") }
        if let value = Int(encoded.dropFirst().dropLast()), value > 0 { return .amount(value) }
        return .invalidAmount("")
    }

    @Test("fuzz: validity agrees with JSONSerialization, and amounts agree where Foundation is exact")
    func fuzzAgainstFoundation() {
        var generator = Generator(state: 0x5EED)
        var checked = 0
        for round in 0..<4_000 {
            let document = generator.object(depth: 0)
            let bytes = round % 3 == 0 ? generator.corrupt(document) : Array(document.utf8)
            let mine = JSONAmountParser.parse(bytes)
            let theirs = Self.foundationVerdict(bytes)
            let text = String(decoding: bytes, as: UTF8.self)
            if bytes.isEmpty { continue }
            switch (mine, theirs) {
            case (.invalidJSON, nil):
                checked += 1
            case (.invalidJSON(let reason), .some):
                // Foundation accepts a trailing comma before } or ]; RFC 8259 (and this parser) does not.
                let squeezed = text.filter { !$0.isWhitespace }
                if !(squeezed.contains(",}") || squeezed.contains(",]")) {
                    Issue.record("refused valid JSON \(text.debugDescription): \(reason)")
                }
            case (_, nil):
                Issue.record("accepted invalid JSON \(text.debugDescription) as \(mine)")
            case (.amount(let value), .amount(let expected)?):
                #expect(value == expected, "\(text)")
                checked += 1
            case (.invalidAmount, .invalidAmount?):
                checked += 1
            case (.invalidAmount, .amount?), (.amount, .invalidAmount?):
                // Foundation reads 1e2 or 5.0 as an integral NSNumber; the parser refuses any fraction/exponent
                // literal. Only such literals may disagree.
                #expect(
                    text.contains("e") || text.contains("E") || text.contains("."),
                    "\(text): \(mine) vs \(String(describing: theirs))")
            default:
                Issue.record("unexpected pair \(mine) / \(String(describing: theirs)) for \(text)")
            }
        }
        #expect(checked > 3_000)
    }

    @Test("fuzz: the writer's strings decode back to the original with JSONDecoder")
    func writerRoundTrip() throws {
        var generator = Generator(state: 42)
        let alphabet: [String] = [
            "a", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{00}", "\u{1F}", "\u{7F}", "é", "漢", "😀",
            " ", "\u{2028}",
        ]
        for _ in 0..<2_000 {
            let original = (0..<Int(generator.next() % 12)).map { _ in generator.pick(alphabet) }.joined()
            var writer = JSONWriter()
            writer.writeRaw(#"{"counter_id":"#)
            writer.writeString(original)
            writer.writeRaw(#","value":"#)
            writer.writeInt(-17)
            writer.writeRaw("}")
            struct Reply: Decodable {
                var counter_id: String
                var value: Int
            }
            let decoded = try JSONDecoder().decode(Reply.self, from: Data(writer.bytes))
            #expect(decoded.counter_id == original)
            #expect(decoded.value == -17)
            // The ByteBuffer path writes the same bytes.
            var buffer = ByteBufferAllocator().buffer(capacity: 64)
            buffer.writeJSONString(original)
            var plain = JSONWriter()
            plain.writeString(original)
            #expect(Array(buffer.readableBytesView) == plain.bytes)
        }
    }

    @Test("decimal writer matches String(Int)")
    func decimals() {
        for value in [0, 1, 9, 10, 99, 100, -1, -10, 123_456_789, Int.max, Int.min] {
            var buffer = ByteBufferAllocator().buffer(capacity: 32)
            buffer.writeDecimal(value)
            #expect(String(buffer: buffer) == String(value))
        }
    }
}

extension JSONTests.Generator: RandomNumberGenerator {}
