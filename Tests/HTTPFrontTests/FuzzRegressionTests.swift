import HTTPFront
import Testing

/// Inputs found by `make fuzz`, kept as regression tests in the normal suite.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// fuzz-json-amount, crash-03dd85cb: `9\0\0\0\07:`. The parser refuses it (right: a raw NUL is never valid JSON),
    /// while swift-corelibs-foundation's JSONSerialization stops at the NUL and accepts the document `9`; the harness
    /// held the parser to Foundation and failed. A NUL anywhere must stay invalid JSON (400), never an amount.
    @Test(
        "a raw NUL byte is invalid JSON wherever it appears",
        arguments: [
            [57, 0, 0, 0, 0, 55, 58],
            Array(#"{"amount":5}"#.utf8) + [0],
            [0] + Array(#"{"amount":5}"#.utf8),
            Array(#"{"amount":5"#.utf8) + [0] + Array("}".utf8),
            Array(#"{"a":""#.utf8) + [0] + Array(#"","amount":2}"#.utf8),
        ] as [[UInt8]])
    func nulIsInvalidJSON(_ bytes: [UInt8]) {
        guard case .invalidJSON = JSONAmountParser.parse(bytes) else {
            Issue.record("\(bytes) was not refused as invalid JSON: \(JSONAmountParser.parse(bytes))")
            return
        }
    }

    /// fuzz-json-amount, `77.777e787` and an integer of 400 digits: valid JSON by RFC 8259's grammar (no bound on a
    /// number), which Foundation refuses because it cannot represent the number. The parser reads it as valid JSON that is not an acceptable
    /// increment (422), never as an amount and never as malformed (400).
    @Test(
        "a number beyond Double's range is valid JSON but never an amount",
        arguments: [
            "77.777e787", #"{"amount": 1e999}"#, #"{"amount": 77.777e787, "x": 1}"#, "[1E+400]",
            String(repeating: "3", count: 400), #"{"amount": \#(String(repeating: "3", count: 400))}"#,
        ])
    func hugeExponents(_ text: String) {
        guard case .invalidAmount = JSONAmountParser.parse(Array(text.utf8)) else {
            Issue.record("\(text): \(JSONAmountParser.parse(Array(text.utf8)))")
            return
        }
    }
}
