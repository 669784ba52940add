import Foundation
import Testing

@testable import AccountingService

/// The hand-written body parser against Foundation's: the same documents are valid, the same members read.
@Suite struct RequestBodyTests {
    static let documents: [String] = [
        #"{"amount": 5}"#, #"{"amount":5,"amount":7}"#, #"{"initial": 0}"#, #"{}"#,
        #" { "a" : [1, {"b": null}], "amount": 3 } "#,
        #"{"from":"alice","to":"b\u00e9b \"q\" \ud83d\ude00","amount":9223372036854775807}"#,
        #"{"amount": -9223372036854775808}"#, #"{"amount": 9223372036854775808}"#, #"{"amount": 1.0}"#,
        #"{"amount": 1e3}"#, #"{"amount": true}"#, #"[1,2]"#, #""text""#, "12", "null",
        #"{"amount": 01}"#, #"{"amount": }"#, #"{"amount": 5,}"#, #"{"amount" 5}"#, #"{'amount': 5}"#, "{", "",
        #"{"a": "\x"}"#, #"{"a": "\ud800"}"#, "{\"a\": \"\u{01}\"}", #"{"amount": 5} x"#, #"{"a": tru}"#,
        #"{"amount": -}"#, #"{"amount": 1.}"#, #"{"amount": 1e}"#, #"{"a": [1,]}"#, #"{"a": ",}", "b": "\",]"}"#,
    ]

    static func foundation(_ text: String) -> Any?? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            return .none
        }
        return .some(value)
    }

    @Test func agreesWithFoundation() {
        for text in Self.documents { check(text) }
    }

    @Test func mutationsAgreeWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]":,-0123456789.eE truefalsnul\abu"#.utf8)
        for _ in 0..<3_000 {
            var bytes = Array(Self.documents.randomElement(using: &generator)!.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0...bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes.insert(alphabet.randomElement(using: &generator)!, at: position)
                case 1 where position < bytes.count: bytes.remove(at: position)
                default: if position < bytes.count { bytes[position] = alphabet.randomElement(using: &generator)! }
                }
            }
            check(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// The commands' fast path (`{"amount": N}` without a dictionary) answers only where the full parser reads a
    /// one-member object with that integer, and then the same integer (sound on the documents and 4,000 random
    /// mutations of them); everything else falls through (nil) to the full parser.
    @Test func singleIntegerFastPathAgreesWithTheParser() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]":,-0123456789.eE truefalsnul\abu"#.utf8)
        var samples =
            Self.documents + [
                #"{"amount":1}"#, " {\n\t\"amount\" :\r 42 } ", #"{"amount": 0}"#, #"{"amount": 123456789012345678}"#,
                #"{"amount": 1234567890123456789}"#, #"{"amounts": 1}"#, #"{"amount": 00}"#, #"{"amount": 1}}"#,
            ]
        var accepted = 0
        for round in 0..<4_000 {
            var bytes = Array((round < samples.count ? samples[round] : samples.randomElement(using: &generator)!).utf8)
            if round >= samples.count {
                let position = Int.random(in: 0...bytes.count, using: &generator)
                bytes.insert(alphabet.randomElement(using: &generator)!, at: position)
                if Int.random(in: 0..<2, using: &generator) == 0 {
                    samples.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            let fast = bytes.withUnsafeBytes { RequestBody.singleInteger($0, field: "amount") }
            let full = RequestBody.parse(bytes)
            if let fast {
                accepted += 1
                #expect(full == .object(["amount": .integer(fast)]), "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(accepted >= 3)  // at least the three valid samples below (mutations add a random number more)
        for (text, value) in [
            (#"{"amount":1}"#, 1), (" {\n\t\"amount\" :\r 42 } ", 42),
            (#"{"amount": 123456789012345678}"#, 123_456_789_012_345_678),
        ] {
            #expect(Array(text.utf8).withUnsafeBytes { RequestBody.singleInteger($0, field: "amount") } == Int64(value))
        }
    }

    /// The text with the contents of its string literals (escapes included) replaced by `_`, quotes kept.
    static func outsideStrings(_ text: String) -> String {
        var result = ""
        var inString = false
        var escaped = false
        for character in text {
            if inString {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                    result.append(character)
                    continue
                }
                result.append("_")
            } else {
                if character == "\"" { inString = true }
                result.append(character)
            }
        }
        return result
    }

    /// Where Foundation departs from RFC 8259, the parser keeps to the RFC: Foundation (Linux) accepts trailing
    /// commas, and refuses numbers whose exponent overflows a Double (valid JSON: an unacceptable amount, 422).
    func check(_ text: String) {
        let ours = RequestBody.parse(Array(text.utf8))
        // A comma before a closing bracket outside a string (`{"a":",}"}` has none: it is inside a string).
        if Self.outsideStrings(text).range(of: #",\s*[\]}]"#, options: .regularExpression) != nil {
            if case .invalid = ours {} else { Issue.record("\(text.debugDescription): trailing comma accepted") }
            return
        }
        let hasExponent = text.range(of: #"[0-9][eE][+-]?[0-9]"#, options: .regularExpression) != nil
        switch Self.foundation(text) {
        case .none where hasExponent:
            return
        case .none:
            if case .invalid = ours {
            } else {
                Issue.record("\(text.debugDescription): Foundation refuses, we gave \(ours)")
            }
        case .some(let value):
            guard let object = value as? [String: Any] else {
                #expect(ours == .notObject, "\(text.debugDescription)")
                return
            }
            guard case .object(let members) = ours else {
                Issue.record("\(text.debugDescription): Foundation reads an object, we gave \(ours)")
                return
            }
            #expect(Set(members.keys) == Set(object.keys), "\(text.debugDescription)")
            for (key, member) in members {
                switch member {
                case .string(let string): #expect(object[key] as? String == string, "\(text.debugDescription)")
                case .integer(let integer):
                    #expect((object[key] as? NSNumber)?.int64Value == integer, "\(text.debugDescription)")
                default: break
                }
            }
        }
    }
}
