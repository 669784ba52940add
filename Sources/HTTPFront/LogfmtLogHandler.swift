import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A swift-log handler that prints one logfmt line per message to standard error, in the spec's shape:
/// `level=INFO msg="starting node" nodeID=node-0 shardCount=10`.
///
/// Values are quoted when they contain spaces, quotes, `=` or control characters (quotes and backslashes
/// escaped). Metadata keys print in the order: handler metadata, then the message's, each sorted by key.
public struct LogfmtLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// Creates a handler.
    /// - Parameters:
    ///   - label: the logger's label (not printed; the spec's lines carry none).
    ///   - level: the lowest level printed.
    ///   - write: where lines go; standard error by default.
    public init(
        label: String, level: Logger.Level = .info,
        write: @escaping @Sendable (String) -> Void = LogfmtLogHandler.standardError
    ) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "level=\(Self.levelName(event.level)) msg=\(Self.quote(event.message.description))"
        let provided = metadataProvider?.get() ?? [:]
        for (key, value) in (metadata.merging(provided) { _, new in new }).sorted(by: { $0.key < $1.key })
        where event.metadata?[key] == nil {
            line += " \(key)=\(Self.quote(value.description))"
        }
        if let extra = event.metadata {
            for (key, value) in extra.sorted(by: { $0.key < $1.key }) {
                line += " \(key)=\(Self.quote(value.description))"
            }
        }
        write(line + "\n")
    }

    /// The level names of the spec (Go's slog): DEBUG, INFO, WARN, ERROR.
    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "DEBUG"
        case .info, .notice: "INFO"
        case .warning: "WARN"
        case .error, .critical: "ERROR"
        }
    }

    /// Quotes a logfmt value when needed.
    static func quote(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains { scalar in
                scalar == " " || scalar == "\"" || scalar == "=" || scalar == "\\" || scalar.value < 0x20
                    || scalar.value == 0x7F
            }
        guard needsQuotes else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    quoted += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }

    /// Writes a line to standard error in one `write` call.
    public static let standardError: @Sendable (String) -> Void = { line in
        var copy = line
        copy.withUTF8 { utf8 in _ = Glibc.write(2, utf8.baseAddress, utf8.count) }
    }
}
