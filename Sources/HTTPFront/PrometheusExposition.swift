import ClstrRuntime

/// A hand-written renderer of the Prometheus text exposition format (version 0.0.4).
///
/// Used when `/metrics` is scraped (off the hot path); it reads counters and histograms that are recorded
/// lock-free.
public struct PrometheusExposition: Sendable {
    /// The text so far.
    public var text: String = ""

    public init() {
        text.reserveCapacity(16_384)
    }

    /// Appends the `# HELP` and `# TYPE` lines of a metric family.
    /// - Parameters:
    ///   - name: the family name.
    ///   - type: `counter`, `gauge` or `histogram`.
    ///   - help: the description.
    public mutating func header(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    /// Appends one sample.
    /// - Parameters:
    ///   - name: the sample name.
    ///   - labels: label names and values (values are escaped).
    ///   - value: the value.
    public mutating func sample(_ name: String, labels: [(String, String)] = [], value: Int) {
        text += name
        appendLabels(labels)
        text += " \(value)\n"
    }

    /// Appends one sample with a floating-point value.
    public mutating func sample(_ name: String, labels: [(String, String)] = [], value: Double) {
        text += name
        appendLabels(labels)
        text += " \(Self.format(value))\n"
    }

    /// Appends the `_bucket`, `_sum` and `_count` samples of a histogram.
    /// - Parameters:
    ///   - name: the family name.
    ///   - labels: the labels (the `le` label is added).
    ///   - histogram: the histogram.
    public mutating func histogram(_ name: String, labels: [(String, String)] = [], _ histogram: AtomicHistogram) {
        self.histogram(name, labels: labels, [histogram])
    }

    /// Appends the samples of the sum of several histograms with the same bounds (shards of one metric).
    public mutating func histogram(_ name: String, labels: [(String, String)] = [], _ shards: [AtomicHistogram]) {
        guard let first = shards.first else { return }
        var cumulative = [Int](repeating: 0, count: first.boundsNanoseconds.count + 1)
        var sum = 0.0
        var count = 0
        for shard in shards {
            let snapshot = shard.snapshot()
            for index in cumulative.indices { cumulative[index] += snapshot.cumulative[index] }
            sum += snapshot.sumSeconds
            count += snapshot.count
        }
        for (index, bound) in first.boundsNanoseconds.enumerated() {
            sample(
                name + "_bucket", labels: labels + [("le", Self.format(Double(bound) / 1e9))], value: cumulative[index])
        }
        sample(name + "_bucket", labels: labels + [("le", "+Inf")], value: count)
        sample(name + "_sum", labels: labels, value: sum)
        sample(name + "_count", labels: labels, value: count)
    }

    private mutating func appendLabels(_ labels: [(String, String)]) {
        guard !labels.isEmpty else { return }
        text += "{"
        for (index, (label, value)) in labels.enumerated() {
            if index > 0 { text += "," }
            text += label
            text += "=\""
            for character in value.unicodeScalars {
                switch character {
                case "\\": text += "\\\\"
                case "\"": text += "\\\""
                case "\n": text += "\\n"
                default: text.unicodeScalars.append(character)
                }
            }
            text += "\""
        }
        text += "}"
    }

    /// Formats a float the way Prometheus clients do (`0.0025`, `1`, `2.5e-06`).
    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}
