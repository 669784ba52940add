import ClstrRuntime

/// Adds `amount` to a counter; replies with the new value.
struct Increment: ClusterMessage {
    typealias Reply = Int
    static var messageType: String { "counter.Increment" }
    /// The amount to add: 1…Int.max (the HTTP front refuses other amounts; the actor checks again).
    var amount: Int

    init(amount: Int) { self.amount = amount }

    func encode(to writer: inout WireWriter) { writer.write(amount) }
    init(from reader: inout WireReader) throws(RequestError) { amount = try reader.readInt() }
}

/// Reads a counter; replies with its value.
struct GetValue: ClusterMessage {
    typealias Reply = Int
    static var messageType: String { "counter.GetValue" }

    init() {}

    func encode(to writer: inout WireWriter) {}
    init(from reader: inout WireReader) throws(RequestError) {}
}

/// Why a counter refused an increment; travels as its code across a transport.
struct CounterError: CodedError {
    /// The value would pass `Int.max` (the counter is unchanged).
    static let overflowCode = "counter_overflow"
    /// The amount was not positive (the counter is unchanged).
    static let invalidAmountCode = "invalid_amount"

    let code: String
    let message: String
}
