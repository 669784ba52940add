/// The name of one event stream: an aggregate type and an aggregate ID (`"Account"`, `"alice"`).
///
/// Both parts are non-empty, at most 200 UTF-8 bytes, and contain no ASCII control character, space, `.`, `*`,
/// `>` or `/`, so that every store can map them to its keys and subjects unescaped (JetStream:
/// `<prefix>.events.<aggregateType>.<aggregateID>`). Stores refuse other names with
/// ``EventStoreError/Code/invalidArgument``; ``isValid`` checks a name up front.
public struct StreamName: Hashable, Sendable, CustomStringConvertible {
    /// The aggregate type: a stable name chosen by the application, never a reflection name.
    public var aggregateType: String
    /// The aggregate's ID within its type.
    public var aggregateID: String

    public init(aggregateType: String, aggregateID: String) {
        self.aggregateType = aggregateType
        self.aggregateID = aggregateID
    }

    /// `"<aggregateType>-<aggregateID>"` (for logs; stores keep the two parts apart).
    public var description: String { aggregateType + "-" + aggregateID }

    /// Whether both parts follow the rules above.
    public var isValid: Bool { Self.isValidPart(aggregateType) && Self.isValidPart(aggregateID) }

    /// Whether one part follows the rules above.
    public static func isValidPart(_ part: String) -> Bool {
        var count = 0
        for byte in part.utf8 {
            count += 1
            if byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "*")
                || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/")
            {
                return false
            }
        }
        return count > 0 && count <= 200
    }
}
