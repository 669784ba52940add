import CLibFuzzer
import HTTPFront

/// libFuzzer entry: the HTTP/1.1 request-head parser (`HTTPRequestParser.parseHead`).
///
/// Properties checked besides "no crash, no sanitizer report": a head never claims more bytes than it was given,
/// and feeding the same bytes in two pieces (the split point taken from the input) ends in the same result as
/// feeding them at once — the parser's resumable scan must not change its verdict.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var whole = HTTPRequestParser()
    let once = whole.parseHead(bytes)
    if case .head(let head) = once {
        precondition(head.headLength <= size, "head length \(head.headLength) > \(size) bytes given")
        precondition(head.targetOffset + head.targetLength <= head.headLength, "target outside the head")
    }
    guard size > 1 else { return 0 }
    let split = Int(bytes[size - 1]) % size
    var pieces = HTTPRequestParser()
    var result = pieces.parseHead(UnsafeRawBufferPointer(rebasing: bytes[0..<split]))
    if result == .needMore {
        result = pieces.parseHead(bytes)
    }
    precondition(result == once, "split at \(split): \(result) vs at once: \(once)")
    return 0
}

/// The process entry: SwiftPM links a debug executable's `main` to `FuzzHTTPParser_main`; it hands the arguments to
/// libFuzzer's driver.
@_cdecl("FuzzHTTPParser_main")
public func fuzzHTTPParserMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzHTTPParser(data, size) }
}
