import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import Testing

@testable import BenchResults

@Suite("SVG writer, charts and the HTML report")
struct ReportTests {
    @Test("text and attributes are escaped")
    func escaping() {
        #expect(SVGWriter.escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;")
        var svg = SVGWriter(width: 100, height: 50)
        svg.text("<script>", x: 1.5, y: 2)
        #expect(svg.body.contains("&lt;script&gt;"))
        #expect(!svg.document.contains("<script>"))
    }

    @Test("numbers are compact and locale-free")
    func numbers() {
        #expect(SVGWriter.number(1.0) == "1")
        #expect(SVGWriter.number(1.25) == "1.25")
        #expect(SVGWriter.number(1.2) == "1.2")
        #expect(SVGWriter.number(-0.001) == "0")
        #expect(SVGWriter.number(.nan) == "0")
        #expect(ChartScale.label(25_000) == "25k")
        #expect(ChartScale.label(1_500_000) == "1.5M")
        #expect(ChartScale.label(0.5) == "0.5")
    }

    @Test("the document is a well-formed SVG element")
    func document() throws {
        var svg = SVGWriter(width: 200, height: 100)
        svg.rect(x: 1, y: 2, width: 3, height: 4, fill: "#123", title: "bar")
        svg.line(x1: 0, y1: 0, x2: 10, y2: 10, stroke: "#000", dashed: true)
        svg.polyline([(0, 0), (5, 5)], stroke: "red")
        svg.circle(x: 5, y: 5, radius: 2, fill: "blue")
        let document = svg.document
        #expect(document.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"100\""))
        #expect(document.hasSuffix("</svg>"))
        #expect(document.contains("<polyline points=\"0,0 5,5\""))
        #expect(document.contains("stroke-dasharray"))
        let parsed = try XMLDocument(xmlString: document)
        #expect(parsed.rootElement()?.name == "svg")
        #expect(try parsed.nodes(forXPath: "//*[local-name()='rect']").count == 2)
    }

    @Test("linear scales start at zero with nice ticks; log scales span decades")
    func scales() {
        let linear = ChartScale(values: [12_345, 800])
        #expect(linear.low == 0)
        #expect(linear.ticks.first == 0)
        #expect(linear.high >= 12_345)
        #expect(linear.ticks == [0, 2500, 5000, 7500, 10_000, 12_500])
        #expect(linear.fraction(0) == 0 && linear.fraction(linear.high) == 1)
        #expect(ChartScale.niceStep(0.7) == 1 && ChartScale.niceStep(3) == 5 && ChartScale.niceStep(21) == 25)

        let log = ChartScale(values: [0.8, 45], logarithmic: true)
        #expect(log.low == 0.1 && log.high == 100)
        #expect(log.ticks.contains(1) && log.ticks.contains(50))
        #expect(abs(log.fraction(1) - 1.0 / 3.0) < 1e-9)
        #expect(ChartScale(values: [], logarithmic: false).high > 0)
    }

    @Test("a line chart draws one point per value and gaps for missing values")
    func lineChart() throws {
        let chart = Chart(
            title: "t", yLabel: "req/s", categories: ["a", "b", "c"],
            series: [
                .init(name: "one", values: [1, 2, 3]),
                .init(name: "two", values: [2, nil, 1]),
            ])
        let svg = chart.svg()
        let parsed = try XMLDocument(xmlString: svg)
        #expect(try parsed.nodes(forXPath: "//*[local-name()='circle']").count == 5)
        // one polyline for "one", two single-point runs for "two"
        #expect(try parsed.nodes(forXPath: "//*[local-name()='polyline']").count == 3)
        #expect(svg.contains(">one</text>") && svg.contains(">two</text>"))
    }

    @Test("a bar chart draws one bar per value and a legend swatch per series")
    func barChart() throws {
        let chart = Chart(
            title: "t", yLabel: "MiB", categories: ["x", "y"],
            series: [.init(name: "before", values: [1, 2]), .init(name: "after", values: [3, nil])], style: .bars,
            reference: 1)
        let parsed = try XMLDocument(xmlString: chart.svg())
        // background + 3 bars + 2 legend swatches
        #expect(try parsed.nodes(forXPath: "//*[local-name()='rect']").count == 6)
        #expect(try parsed.nodes(forXPath: "//*[local-name()='line'][@stroke-dasharray]").count == 1)
    }

    @Test("the report renders from a fixed results file: self-contained, every chart, the summary")
    func reportFromFixture() throws {
        let results = try BenchHistory(contentsOf: Fixture.path("bench-two-commits.csv"))
        let html = ReportRenderer(results: results, source: "fixture.csv").html(generated: "2026-11-29T00:00:00Z")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("latest commit: <b>bbbbbbb2222</b>"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 7)
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count - 1 == 7)  // xmlns only
        #expect(!html.contains("https://"))
        for heading in [
            "Throughput per scenario across commits", "Tail latency per scenario across commits",
            "Anchor ratio across commits", "Latency spectrum of the latest commit", "Heap per scenario",
            "Anchor ratios (latest commit)", "CPU time per request across commits",
        ] {
            #expect(html.contains(heading))
        }
        // summary rows for the latest commit: 7 series
        #expect(html.components(separatedBy: "<tr>").count - 1 == 8)
        #expect(html.contains("rate (corrected)"))
        // every chart's SVG parses as XML
        for (_, svg) in ReportRenderer(results: results).charts() {
            #expect(throws: Never.self) { try XMLDocument(xmlString: svg) }
        }
        // across-commit throughput: the hot-key series has a point per commit at its median
        let throughput = ReportRenderer(results: results).charts()[0].svg
        #expect(throughput.contains("hot-key · aaaaaaa1111: 20k"))
        #expect(throughput.contains("hot-key · bbbbbbb2222: 14k"))
    }

    @Test("failed runs are marked in the report")
    func reportMarksFailures() throws {
        let results = try BenchHistory(contentsOf: Fixture.path("bench-head-failed.csv"))
        let html = ReportRenderer(results: results).html(generated: "now")
        #expect(html.contains("<tr class=\"failed\">"))
        #expect(html.contains("FAILED 1/3: verify FAIL expected 100000 got 99998"))
    }

    @Test("an empty results file renders a page saying there is no data")
    func reportEmpty() {
        let html = ReportRenderer(results: BenchHistory(rows: [])).html(generated: "now")
        #expect(html.contains("no data"))
        #expect(html.hasSuffix("</body></html>\n"))
    }
}

extension ReportTests {
    @Test("across commits, only runs of the latest size share a line (QUICK and full do not mix)")
    func reportSeparatesSizes() {
        func row(_ commit: String, n: String, rps: Double) -> BenchRow {
            BenchRow([
                "commit": commit, "scenario": "hot-key", "tool": "loadgen", "target": "counter-service", "n": n,
                "c": "200", "rps": String(rps), "p99_ms": "5", "status": "PASS",
            ])
        }
        let renderer = ReportRenderer(
            results: BenchHistory(rows: [
                row("full0001", n: "100000", rps: 50_000), row("quick001", n: "10000", rps: 30_000),
                row("full0002", n: "100000", rps: 60_000),
            ]))
        #expect(renderer.median("rps", commit: "full0001", scenario: "hot-key") == 50_000)
        #expect(renderer.median("rps", commit: "quick001", scenario: "hot-key") == nil)
        let throughput = renderer.charts()[0].svg
        #expect(throughput.contains("hot-key · full0002: 60k"))
        #expect(!throughput.contains("quick001: 30k"))
    }
}

extension ReportTests {
    @Test("a line chart that connects gaps draws one polyline per series")
    func lineChartConnectsGaps() throws {
        var chart = Chart(
            title: "t", yLabel: "ms", categories: ["a", "b", "c"], series: [.init(name: "two", values: [2, nil, 1])])
        chart.connectGaps = true
        let svg = chart.svg()
        #expect(svg.components(separatedBy: "<polyline ").count - 1 == 1)
        #expect(svg.components(separatedBy: "<circle ").count - 1 == 2)
    }
}
