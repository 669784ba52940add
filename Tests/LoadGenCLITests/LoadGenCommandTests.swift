import Testing

@testable import LoadGenCLI

/// The root command: ArgumentParser dispatches `compare` and `report`, anything else is a load run.
@Suite struct RootCommandTests {
    @Test func subcommandsAreDispatchedByTheParser() throws {
        #expect(try LoadGenCommand.parseAsRoot(["-n", "10", "-c", "2", "http://127.0.0.1:1/"]) is RunCommand)
        #expect(try LoadGenCommand.parseAsRoot(["http://127.0.0.1:1/compare"]) is RunCommand)
        #expect(try LoadGenCommand.parseAsRoot([]) is RunCommand)
        #expect(try LoadGenCommand.parseAsRoot(["run", "http://127.0.0.1:1/"]) is RunCommand)
        #expect(try LoadGenCommand.parseAsRoot(["compare", "a.csv", "b.csv"]) is CompareCommand)
        #expect(
            try LoadGenCommand.parseAsRoot(["report", "html", "--results", "r.csv", "--output", "/tmp/r.html"])
                is ReportCommand.HTML)
        #expect(
            try LoadGenCommand.parseAsRoot(["report", "ingest", "--manifest", "m", "--commit", "c"])
                is ReportCommand.Ingest)
        #expect(try LoadGenCommand.parseAsRoot(["report", "commit"]) is ReportCommand.Commit)
    }

    @Test func helpListsTheSubcommands() {
        #expect(LoadGenCommand.namedSubcommands.map(\.name) == ["compare", "report"])
        let usage = UsageError.usage
        #expect(usage.hasPrefix("Usage: loadgen [options...] <url>\n"))
        #expect(usage.contains("\n  compare  Compare results rows"))
        #expect(usage.contains("\n  report   Bench results: ingest a run"))
        #expect(usage.contains("-disable-keepalive"))
    }
}
