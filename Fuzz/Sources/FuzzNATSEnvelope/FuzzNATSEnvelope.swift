import CLibFuzzer
import ClstrRuntime
@testable import RuntimeNATS

/// libFuzzer entry: the NATS transport's request envelope and reply frame decoders (`NATSEnvelope`).
///
/// Properties: decoding never traps; a request envelope that decodes re-encodes to one that decodes to the same
/// fields; a reply frame that decodes to an error re-encodes to the same code and message; a batch frame (version 2)
/// walks its entries without trapping, and the entries it yields rebuild a batch that yields them again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNATSEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let incoming = try? NATSEnvelope.decodeRequest(bytes) {
        var writer = WireWriter()
        do {
            try NATSEnvelope.encodeRequest(
                incoming.request, remainingMicroseconds: incoming.remainingMicroseconds, into: &writer)
        } catch {
            preconditionFailure("a decoded request does not encode again: \(error)")
        }
        let again = writer.bytes.withUnsafeBytes { try? NATSEnvelope.decodeRequest($0) }
        guard let again else { preconditionFailure("a re-encoded request does not decode") }
        let (a, b) = (incoming.request, again.request)
        precondition(
            a.shard == b.shard && a.key == b.key && a.messageType == b.messageType && a.headers == b.headers
                && a.createdAtMilliseconds == b.createdAtMilliseconds
                && incoming.remainingMicroseconds == again.remainingMicroseconds,
            "request fields changed across a round trip")
        if case .bytes(let first) = a.payload, case .bytes(let second) = b.payload {
            precondition(first == second, "payload changed across a round trip")
        }
    }
    fuzzBatches(bytes)
    if case .failure(let error) = NATSEnvelope.decodeReply(bytes) {
        var writer = WireWriter()
        NATSEnvelope.encodeError(error, into: &writer)
        let again = writer.bytes.withUnsafeBytes { NATSEnvelope.decodeReply($0) }
        guard case .failure(let second) = again else { preconditionFailure("an error frame decodes as success") }
        precondition(second.code == error.code && second.message == error.message, "error changed in a round trip")
    }
    return 0
}

private func fuzzBatches(_ bytes: UnsafeRawBufferPointer) {
    var entries: [(UInt64, [UInt8])] = []
    var rebuilt: [UInt8] = []
    if let header = try? NATSEnvelope.decodeRequestBatchHeader(bytes) {
        header.inbox.withMemoryRebound(to: CChar.self) { NATSEnvelope.startRequestBatch(inbox: $0, into: &rebuilt) }
        try? NATSEnvelope.forEachEntry(bytes, from: header.entries) { token, frame in
            entries.append((token, Array(frame)))
            _ = try? NATSEnvelope.decodeRequest(frame)
        }
    } else if let start = try? NATSEnvelope.replyBatchEntries(bytes) {
        NATSEnvelope.startReplyBatch(into: &rebuilt)
        try? NATSEnvelope.forEachEntry(bytes, from: start) { token, frame in
            entries.append((token, Array(frame)))
            _ = NATSEnvelope.decodeReply(frame)
        }
    } else {
        return
    }
    for (token, frame) in entries {
        _ = frame.withUnsafeBytes { NATSEnvelope.appendEntry(token: token, frame: $0, into: &rebuilt) }
    }
    var again: [(UInt64, [UInt8])] = []
    rebuilt.withUnsafeBytes { rebuiltBytes in
        let start =
            (try? NATSEnvelope.decodeRequestBatchHeader(rebuiltBytes).entries)
            ?? (try? NATSEnvelope.replyBatchEntries(rebuiltBytes))
        guard let start else { preconditionFailure("a rebuilt batch has no valid header") }
        do {
            try NATSEnvelope.forEachEntry(rebuiltBytes, from: start) { again.append(($0, Array($1))) }
        } catch {
            preconditionFailure("a rebuilt batch does not decode: \(error)")
        }
    }
    precondition(again.map(\.0) == entries.map(\.0) && again.map(\.1) == entries.map(\.1), "batch entries changed")
}

/// The process entry: SwiftPM links a debug executable's `main` to `FuzzNATSEnvelope_main`; it hands the arguments to
/// libFuzzer's driver.
@_cdecl("FuzzNATSEnvelope_main")
public func fuzzNATSEnvelopeMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzNATSEnvelope(data, size) }
}
