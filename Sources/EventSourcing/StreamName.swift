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
        // Over the contiguous UTF-8 bytes (native strings already are): iterating `String.UTF8View` costs ~3× as
        // many instructions, and this runs for every command an event-sourced actor handles.
        var part = part
        return part.withUTF8 { bytes in
            guard !bytes.isEmpty, bytes.count <= 200 else { return false }
            for byte in bytes
            where byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "*")
                || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/")
            {
                return false
            }
            return true
        }
    }
}
