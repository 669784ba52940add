import Foundation
import Testing

@testable import LoadGenCLI
import LoadGenCore

/// The command line against hey 0.1.4's semantics (defaults, spellings, messages), parsed through the root command
/// as `loadgen` parses it (the load run is its default subcommand).
@Suite struct HeyFlagParsingTests {
    private func options(_ arguments: [String]) throws -> LoadOptions {
        let command = try #require(try LoadGenCommand.parseAsRoot(arguments) as? RunCommand)
        return try command.makeOptions()
    }

    private func usageError(_ arguments: [String]) -> String? {
        do {
            let parsed = try LoadGenCommand.parseAsRoot(arguments)
            guard let command = parsed as? RunCommand else { return nil }
            _ = try command.makeOptions()
            return nil
        } catch let error as UsageError {
            return error.description
        } catch {
            return "parse: \(LoadGenCommand.message(for: error))"
        }
    }

    @Test func heyDefaults() throws {
        let o = try options(["http://127.0.0.1:8080/x"])
        #expect(o.requests == 200)
        #expect(o.concurrency == 50)
        #expect(o.perWorkerQPS == 0)
        #expect(o.duration == nil)
        #expect(o.output == .summary)
        #expect(o.method == "GET")
        #expect(o.timeout == 20)
        #expect(o.contentType == "text/html")
        #expect(o.accept == nil)
        #expect(o.body.isEmpty)
        #expect(!o.disableCompression && !o.disableKeepAlive && !o.disableRedirects)
        #expect(o.cpus == LoadOptions.defaultCores)
        #expect(o.url.host == "127.0.0.1" && o.url.port == 8080 && o.url.pathAndQuery == "/x")
        #expect(o.rate == nil && !o.json && o.resultsPath == nil)
    }

    /// One row per flag: arguments, and a check of the resulting options.
    @Test(arguments: [
        (["-n", "1000", "-c", "10"], "n=1000 c=10"),
        (["-n=1000", "-c=10"], "n=1000 c=10"),
        (["-q", "2.5"], "q=2.5"),
        (["-z", "1m30s"], "z=90.0"),
        (["-z", "500ms"], "z=0.5"),
        (["-o", "csv"], "o=csv"),
        (["-m", "post"], "m=POST"),
        (["-m", "foo"], "m=FOO"),
        (["-H", "X-A: 1", "-H", "X-B:2"], "H=X-A:1,X-B:2"),
        (["-t", "0"], "t=0.0"),
        (["-A", "application/json"], "A=application/json"),
        (["-d", "{\"amount\":3}"], "d={\"amount\":3} amount=3"),
        (["-T", "application/json"], "T=application/json"),
        (["-a", "user:pw"], "a=user:pw"),
        (["-x", "127.0.0.1:3128"], "x=127.0.0.1:3128"),
        (["-x", "http://proxy:3128"], "x=proxy:3128"),
        (["-host", "example.test"], "host=example.test"),
        (["-U", "bench"], "U=bench"),
        (["-disable-compression", "-disable-keepalive", "-disable-redirects"], "dc dk dr"),
        (["-cpus", "1"], "cpus=1"),
        (["--rate", "1000", "--json"], "rate=1000.0 json"),
        (["--results", "r.csv", "--scenario", "s"], "results=r.csv scenario=s"),
    ])
    func flag(arguments: [String], expected: String) throws {
        let o = try options(arguments + ["http://127.0.0.1:8080/"])
        var parts: [String] = []
        for part in expected.split(separator: " ") {
            switch part.split(separator: "=", maxSplits: 1).first! {
            case "n": parts.append("n=\(o.requests)")
            case "c": parts.append("c=\(o.concurrency)")
            case "q": parts.append("q=\(o.perWorkerQPS)")
            case "z": parts.append("z=\(o.duration ?? -1)")
            case "o": parts.append("o=\(o.output.rawValue)")
            case "m": parts.append("m=\(o.method)")
            case "H": parts.append("H=" + o.headers.map { "\($0.name):\($0.value)" }.joined(separator: ","))
            case "t": parts.append("t=\(o.timeout)")
            case "A": parts.append("A=\(o.accept ?? "")")
            case "d": parts.append("d=\(String(decoding: o.body, as: UTF8.self))")
            case "amount": parts.append("amount=\(o.counterAmount)")
            case "T": parts.append("T=\(o.contentType)")
            case "a": parts.append("a=\(o.basicAuth!.user):\(o.basicAuth!.password)")
            case "x": parts.append("x=\(o.proxy!.host):\(o.proxy!.port)")
            case "host": parts.append("host=\(o.hostOverride ?? "")")
            case "U": parts.append("U=\(o.userAgent ?? "")")
            case "dc": parts.append(o.disableCompression ? "dc" : "")
            case "dk": parts.append(o.disableKeepAlive ? "dk" : "")
            case "dr": parts.append(o.disableRedirects ? "dr" : "")
            case "cpus": parts.append("cpus=\(o.cpus)")
            case "rate": parts.append("rate=\(o.rate ?? -1)")
            case "json": parts.append(o.json ? "json" : "")
            case "results": parts.append("results=\(o.resultsPath ?? "")")
            case "scenario": parts.append("scenario=\(o.scenario ?? "")")
            default: Issue.record("unknown key \(part)")
            }
        }
        #expect(parts.joined(separator: " ") == expected)
    }

    @Test func flagsAfterTheURLAreHonoured() throws {
        // hey stops parsing at the URL (rakyll/hey#50); loadgen does not.
        let o = try options(["http://127.0.0.1:8080/", "-n", "10", "-c", "2", "-host", "h.test"])
        #expect(o.requests == 10 && o.concurrency == 2 && o.hostOverride == "h.test")
    }

    @Test func bodyFromFileOverridesBody() throws {
        let path = "/tmp/loadgen-test-body-\(getpid()).txt"
        try "from-file".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let o = try options(["-d", "inline", "-D", path, "http://127.0.0.1:8080/"])
        #expect(String(decoding: o.body, as: UTF8.self) == "from-file")
    }

    /// hey's messages for bad input. (No URL is not one: unlike hey, loadgen then drives the local counter-service;
    /// DefaultTargetTests.)
    @Test(arguments: [
        (["-n", "0", "http://a/"], "-n and -c cannot be smaller than 1."),
        (["-c", "0", "http://a/"], "-n and -c cannot be smaller than 1."),
        (["-n", "5", "-c", "10", "http://a/"], "-n cannot be less than -c."),
        (["-z", "1s", "-c", "0", "http://a/"], "-c cannot be smaller than 1."),
        (["-H", "nocolon", "http://a/"], "could not parse the provided input; input = nocolon"),
        (["-a", "nopassword", "http://a/"], "could not parse the provided input; input = nopassword"),
        (["-h", "X: y", "http://a/"], "Flag '-h' is deprecated, please use '-H' instead."),
        (
            ["-o", "{{ .Rps }}", "http://a/"],
            "Invalid output type \"{{ .Rps }}\": only \"csv\" is supported (hey's Go templates are not)."
        ),
        (["-h2", "http://a/"], "HTTP/2 (-h2) is not supported yet."),
        (["https://a/"], "https:// is not supported yet (use http://)"),
        (["-z", "ten", "http://a/"], "invalid value \"ten\" for flag -z: parse error"),
        (["-q", "5", "--rate", "10", "http://a/"], "use either -q (per worker) or --rate (total), not both."),
        (["-D", "/nonexistent/body", "http://a/"], "open /nonexistent/body: no such file or directory"),
    ])
    func badInput(arguments: [String], message: String) {
        #expect(usageError(arguments) == message)
    }

    @Test func zIgnoresN() throws {
        // With -z, -n is ignored (so -n < -c is fine), as in hey.
        let o = try options(["-z", "2s", "-n", "1", "-c", "10", "http://a/"])
        #expect(o.duration == 2 && o.concurrency == 10)
    }

    @Test func unknownFlagIsAParseError() {
        #expect(usageError(["-bogus", "http://a/"])?.hasPrefix("parse:") == true)
    }

    @Test func goDurations() {
        #expect(RunCommand.parseGoDuration("10s") == 10)
        #expect(RunCommand.parseGoDuration("3m") == 180)
        #expect(RunCommand.parseGoDuration("1h30m") == 5400)
        #expect(RunCommand.parseGoDuration("1.5s") == 1.5)
        #expect(RunCommand.parseGoDuration("250us")! - 0.00025 < 1e-12)
        #expect(RunCommand.parseGoDuration("10") == nil)
        #expect(RunCommand.parseGoDuration("s") == nil)
    }
}
