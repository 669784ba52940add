import AccountingDomain
import CLibFuzzer
import EventSourcing

/// libFuzzer entry: the account's event payload decoders and its snapshot decoder (`AccountingDomain`), which read
/// what the event stores hand back.
///
/// The first byte picks the decoder, the rest is the payload. Properties: decoding never traps; what decodes
/// re-encodes to a payload that decodes to an equal value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventDecoders(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 7 {
    case 0: roundTrip(AccountOpened.self, payload)
    case 1: roundTrip(MoneyDeposited.self, payload)
    case 2: roundTrip(MoneyWithdrawn.self, payload)
    case 3: roundTrip(TransferDebited.self, payload)
    case 4: roundTrip(TransferCredited.self, payload)
    case 5: roundTrip(TransferRefunded.self, payload)
    default:
        guard let account = try? Account(snapshotPayload: payload) else { return 0 }
        let again = try? Account(snapshotPayload: account.snapshotPayload())
        precondition(
            again == account, "snapshot changed across a round trip: \(account) vs \(String(describing: again))")
    }
    return 0
}

/// Decode, encode, decode: the two decoded values are equal.
func roundTrip<Event: DomainEvent & Equatable>(_ type: Event.Type, _ payload: [UInt8]) {
    guard let event = try? Event.decodePayload(payload) else { return }
    guard let encoded = try? event.encodePayload() else { preconditionFailure("\(event) does not encode") }
    let again = try? Event.decodePayload(encoded)
    precondition(again == event, "\(Event.eventType) changed across a round trip: \(event)")
}

/// The process entry: SwiftPM links a debug executable's `main` to `FuzzEventDecoders_main`; it hands the arguments
/// to libFuzzer's driver.
@_cdecl("FuzzEventDecoders_main")
public func fuzzEventDecodersMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzEventDecoders(data, size) }
}
