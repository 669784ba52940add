/// Target memory before and after a run, scraped from its Prometheus endpoint (`--metrics-url`).
public struct MemoryComparison: Sendable, Equatable {
    /// jemalloc bytes allocated by the application.
    public static let heapAllocatedMetric = "clstr_heap_allocated_bytes"
    /// jemalloc bytes in physically resident pages.
    public static let heapResidentMetric = "clstr_heap_resident_bytes"
    /// Process resident set size.
    public static let rssMetric = "process_resident_memory_bytes"

    /// One scrape.
    public struct Sample: Sendable, Equatable {
        /// `clstr_heap_allocated_bytes`, if exposed.
        public var heapAllocated: Double?
        /// `clstr_heap_resident_bytes`, if exposed.
        public var heapResident: Double?
        /// `process_resident_memory_bytes`, if exposed.
        public var rss: Double?

        /// Reads the three metrics from Prometheus text exposition (samples of one name are summed over labels).
        /// - Parameter text: the `/metrics` body.
        public init(prometheusText text: String) {
            heapAllocated = MemoryComparison.value(of: MemoryComparison.heapAllocatedMetric, in: text)
            heapResident = MemoryComparison.value(of: MemoryComparison.heapResidentMetric, in: text)
            rss = MemoryComparison.value(of: MemoryComparison.rssMetric, in: text)
        }

        /// Explicit values.
        public init(heapAllocated: Double?, heapResident: Double?, rss: Double?) {
            self.heapAllocated = heapAllocated
            self.heapResident = heapResident
            self.rss = rss
        }
    }

    /// The endpoint scraped.
    public var url: String
    /// Before the run.
    public var before: Sample
    /// After the run.
    public var after: Sample

    /// A comparison.
    public init(url: String, before: Sample, after: Sample) {
        self.url = url
        self.before = before
        self.after = after
    }

    /// Scrapes `url`.
    /// - Parameter url: the Prometheus endpoint.
    /// - Returns: the sample.
    /// - Throws: ``HTTPFetch/FetchError`` when the scrape fails or the status is not 200.
    public static func scrape(_ url: TargetURL) async throws -> Sample {
        let response = try await HTTPFetch.get(url)
        guard response.status == 200 else {
            throw HTTPFetch.FetchError(description: "GET \(url): status \(response.status)")
        }
        return Sample(prometheusText: response.text)
    }

    /// The value of metric `name` in Prometheus text (summed over its label sets), or nil when absent.
    /// - Parameters:
    ///   - name: the metric name.
    ///   - text: the exposition text.
    /// - Returns: the value.
    public static func value(of name: String, in text: String) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard line.hasPrefix(name), !line.hasPrefix("#") else { continue }
            let rest = line.dropFirst(name.count)
            guard let first = rest.first, first == " " || first == "{" || first == "\t" else { continue }
            var valuePart = rest
            if first == "{" {
                guard let close = rest.lastIndex(of: "}") else { continue }
                valuePart = rest[rest.index(after: close)...]
            }
            let fields = valuePart.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let field = fields.first, let value = Double(field) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    /// The memory block of the summary.
    public var summary: String {
        func line(_ label: String, _ b: Double?, _ a: Double?) -> String {
            guard let b, let a else { return "  \(label):\tnot exposed\n" }
            let growth = Int64(a) - Int64(b)
            return "  \(label):\t\(Int64(b)) -> \(Int64(a)) bytes (\(growth >= 0 ? "+" : "")\(growth))\n"
        }
        return "Target memory (\(url)):\n"
            + line("heap allocated", before.heapAllocated, after.heapAllocated)
            + line("heap resident", before.heapResident, after.heapResident)
            + line("RSS", before.rss, after.rss)
    }
}
