import Foundation
import Testing

@testable import LoadGenCore

/// The summary against hey's layout (golden text from hey 0.1.4 runs, numbers abstracted to `#`).
@Suite struct SummaryPrinterTests {
    /// Replaces numbers by `#` and runs of `■` by one `■`, so only the layout is compared.
    static func abstract(_ text: String) -> String {
        var out = text.replacingOccurrences(of: "[0-9]+(\\.[0-9]+)?", with: "#", options: .regularExpression)
        out = out.replacingOccurrences(of: "■+", with: "■", options: .regularExpression)
        out = out.replacingOccurrences(of: " NaN", with: "#")
        return out
    }

    static func report(
        latenciesMs: [Double], errors: [String: Int] = [:], statuses: [Int] = [], bodyBytes: Int = 13,
        rate: Double? = nil
    ) throws
        -> LoadReport
    {
        var stats = RunStatistics(corrected: rate != nil)
        for (i, ms) in latenciesMs.enumerated() {
            let ns = UInt64(ms * 1e6)
            stats.recordResponse(
                status: statuses.isEmpty ? 200 : statuses[i % statuses.count], bodyBytes: bodyBytes, totalNs: ns,
                dialNs: i == 0 ? 100_000 : 0, waitNs: ns / 2, readNs: ns / 2)
            stats.corrected?.recordNanoseconds(ns * 2)
        }
        for (message, count) in errors {
            for _ in 0..<count { stats.recordError(message) }
        }
        var options = LoadOptions(url: try TargetURL("http://127.0.0.1:9/"))
        options.rate = rate
        return LoadReport(options: options, statistics: stats, totalSeconds: 1.0)
    }

    /// hey run B's layout: data, histogram, 7 percentiles, details, several status codes, no errors.
    static let goldenWithData = """

        Summary:
          Total:\t# secs
          Slowest:\t# secs
          Fastest:\t# secs
          Average:\t# secs
          Requests/sec:\t#
          
          Total data:\t# bytes
          Size/request:\t# bytes

        Response time histogram:
          # [#]\t|
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■
          # [#]\t|■


        Latency distribution:
          #% in # secs
          #% in # secs
          #% in # secs
          #% in # secs
          #% in # secs
          #% in # secs
          #% in # secs

        Details (average, fastest, slowest):
          DNS+dialup:\t# secs, # secs, # secs
          DNS-lookup:\t# secs, # secs, # secs
          req write:\t# secs, # secs, # secs
          resp wait:\t# secs, # secs, # secs
          resp read:\t# secs, # secs, # secs

        Status code distribution:
          [#]\t# responses
          [#]\t# responses
          [#]\t# responses




        """

    /// hey run C's layout: every request failed (NaN averages, empty blocks, error distribution).
    static let goldenAllFailed = """

        Summary:
          Total:\t# secs
          Slowest:\t# secs
          Fastest:\t# secs
          Average:\t# secs
          Requests/sec:\t#
          

        Response time histogram:


        Latency distribution:

        Details (average, fastest, slowest):
          DNS+dialup:\t# secs, # secs, # secs
          DNS-lookup:\t# secs, # secs, # secs
          req write:\t# secs, # secs, # secs
          resp wait:\t# secs, # secs, # secs
          resp read:\t# secs, # secs, # secs

        Status code distribution:

        Error distribution:
          [#]\tGet "http://#.#:#/": dial tcp #.#:#: connect: connection refused


        """

    @Test func heyLayoutWithData() throws {
        let report = try Self.report(latenciesMs: (1...2000).map { Double($0) / 20 }, statuses: [200, 404, 500])
        let text = SummaryPrinter.heyBlock(report)
        #expect(Self.abstract(text) == Self.goldenWithData)
    }

    @Test func heyLayoutAllFailed() throws {
        let message = "Get \"http://127.0.0.1:17099/\": dial tcp 127.0.0.1:17099: connect: connection refused"
        let report = try Self.report(latenciesMs: [], errors: [message: 10])
        let text = SummaryPrinter.heyBlock(report)
        #expect(Self.abstract(text) == Self.goldenAllFailed)
        #expect(text.contains("  Average:\t NaN secs\n"))
        #expect(text.contains("  [10]\t\(message)\n"))
        #expect(text.contains("  Requests/sec:\t10.0000\n"))
    }

    @Test func numbersAreHeyFormatted() throws {
        let report = try Self.report(latenciesMs: (1...100).map(Double.init))
        let text = SummaryPrinter.render(report)
        #expect(text.contains("  Total:\t1.0000 secs\n"))
        #expect(text.contains("  Slowest:\t0.1000 secs\n"))
        #expect(text.contains("  Fastest:\t0.0010 secs\n"))
        #expect(text.contains("  Average:\t0.0505 secs\n"))
        #expect(text.contains("  Requests/sec:\t100.0000\n"))
        #expect(text.contains("  Total data:\t1300 bytes\n  Size/request:\t13 bytes\n"))
        #expect(text.contains("  0.001 [1]\t|"))
        #expect(text.contains("  0.100 [10]\t|■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■\n"))
        #expect(text.contains("  50% in 0.0500 secs\n"))
        #expect(text.contains("  99% in 0.0990 secs\n"))
        #expect(text.contains("  [200]\t100 responses\n"))
        // The extra block after hey's.
        #expect(
            text.contains("\n\n\nLatency percentiles:\n  p50:\t0.0500 secs\n  p90:\t0.0900 secs\n  p99:\t0.0990 secs\n")
        )
        #expect(text.hasSuffix("  p99.9:\t0.1000 secs\n  p99.99:\t0.1000 secs\n  max:\t0.1000 secs\n"))
    }

    @Test func rateAddsCorrectedAndUncorrectedBlocks() throws {
        let report = try Self.report(latenciesMs: (1...100).map(Double.init), rate: 500)
        let text = SummaryPrinter.extraBlock(report)
        #expect(
            text.hasPrefix(
                "Latency percentiles, corrected (from the planned send time at 500 req/s):\n  p50:\t0.1000 secs\n"))
        #expect(text.contains("Latency percentiles, uncorrected (from the actual send time):\n  p50:\t0.0500 secs\n"))
        #expect(text.contains("  Behind schedule:\t0 sends (overdue by more than 1 ms when a connection was free)\n"))
    }

    @Test func noBodyOmitsTotalData() throws {
        let report = try Self.report(latenciesMs: [1, 2, 3], bodyBytes: 0)
        let text = SummaryPrinter.heyBlock(report)
        #expect(text.contains("  Requests/sec:\t3.0000\n  \n\nResponse time histogram:\n"))
        #expect(!text.contains("Total data"))
    }

    @Test func percentInErrorsIsNotMangled() throws {
        let report = try Self.report(latenciesMs: [], errors: ["Get \"http://h/a%20b\": EOF": 1])
        #expect(SummaryPrinter.heyBlock(report).contains("  [1]\tGet \"http://h/a%20b\": EOF\n"))
    }
}
