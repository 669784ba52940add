import Foundation
import Testing

@testable import BenchResults

@Suite("the committed history, the commit rule, header-driven files and the noise rule")
struct BenchHistoryTests {
    @Test("the committed results/bench.csv reads completely and round-trips without losing a row or a field")
    func committedHistory() throws {
        let path = Fixture.path("bench-history.csv")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let history = try BenchHistory(contentsOf: path)
        let records = BenchCSV.parse(text)
        #expect(history.rows.count == records.count - 1)
        #expect(history.rows.count >= 455)
        #expect(records[0] == BenchRow.loadgenColumns + BenchRow.benchColumns)  // written before the cost columns
        #expect(history.commits.first == "3af0fee0c0cb" && history.commits.contains("8e84c44355a2-dirty"))
        #expect(history.rows.allSatisfy { !$0.scenario.isEmpty && !$0.tool.isEmpty && !$0.status.isEmpty })
        #expect(history.rows.allSatisfy { $0.unknownColumns.isEmpty })
        // Written back in the file's header order, every record is what the file holds.
        for (row, record) in zip(history.rows, records.dropFirst()) {
            #expect(row.csvLine(columns: records[0]) == BenchCSV.line(record))
        }
        // Appending to a copy keeps every earlier line as it was.
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let copy = folder + "/bench.csv"
        try text.write(toFile: copy, atomically: true, encoding: .utf8)
        let next = BenchRow(["commit": "feedbee", "scenario": "hot-key", "tool": "loadgen", "status": "PASS"])
        try BenchHistory.append([next], to: copy)
        let appended = try String(contentsOfFile: copy, encoding: .utf8)
        #expect(appended.hasPrefix(text))
        #expect(try BenchHistory(contentsOf: copy).rows == history.rows + [next])
    }

    @Test("commit names: -dirty is the marker, +dirty reads as -dirty, abbreviations match, a dirty query only dirty")
    func commitRule() {
        #expect(CommitName("abc1234+dirty") == CommitName(hash: "abc1234", isDirty: true))
        #expect(CommitName("abc1234+dirty").description == "abc1234-dirty")
        #expect(CommitName("0ca92c2be623").description == "0ca92c2be623")
        let dirty = CommitName("8e84c44355a2-dirty")
        let clean = CommitName("8e84c44355a2")
        #expect(dirty.matches(CommitName("8e84c44")))
        #expect(dirty.matches(CommitName("8e84c44-dirty")))
        #expect(dirty.matches(CommitName("8e84+dirty")))
        #expect(!clean.matches(CommitName("8e84c44-dirty")))
        #expect(clean.matches(CommitName("8e84c44355a2bbbb")))  // a longer hash abbreviated by the row
        #expect(!clean.matches(CommitName("8e8")))  // shorter than git's shortest abbreviation
        #expect(!clean.matches(CommitName("8e84c45")))
        #expect(CommitName("").matches(CommitName("")))
    }

    @Test("old loadgen rows are migrated: tool loadgen, +dirty commits; the latest commit a name matches is chosen")
    func migrationAndSelection() throws {
        let oldHeader = BenchRow.loadgenColumns.joined(separator: ",")
        func old(_ commit: String, _ scenario: String) -> String {
            BenchCSV.line(BenchRow.loadgenColumns.map { ["commit": commit, "scenario": scenario][$0] ?? "" })
        }
        let history = try BenchHistory(
            csv: [oldHeader, old("abc1234", "a"), old("abc1234+dirty", "b"), old("abc1234", "c")].joined(
                separator: "\n"))
        #expect(history.rows.map(\.tool) == ["loadgen", "loadgen", "loadgen"])
        #expect(history.commits == ["abc1234", "abc1234-dirty"])
        #expect(history.commit(named: "abc1") == "abc1234-dirty")  // the later of the two
        #expect(history.commit(named: "abc1234-dirty") == "abc1234-dirty")
        #expect(history.rows(of: "abc1234").map(\.scenario) == ["a", "c"])
        #expect(history.commit(named: "fff1") == nil)
        #expect(throws: BenchResultsError.self) { try BenchHistory(csv: "a,b\n1,2\n") }
    }

    @Test("a column the file lacks widens the header once; earlier rows keep their values and are migrated")
    func headerDrivenAppend() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/runs.csv"
        // A loadgen results file from before the merge: 33 columns, a +dirty commit.
        let oldHeader = BenchRow.loadgenColumns.joined(separator: ",")
        let oldRow = BenchRow.loadgenColumns.map {
            ["commit": "abc1234+dirty", "scenario": "s", "rps": "100", "c": "2", "n": "10"][$0] ?? ""
        }.joined(separator: ",")
        try (oldHeader + "\n" + oldRow + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var row = BenchRow(["commit": "def5678", "scenario": "s", "rps": "110", "c": "2", "n": "10"])
        row["tool"] = "loadgen"
        row["status"] = "PASS"
        row["cpu_ns_per_request"] = "3460"  // a column added after this version
        try BenchHistory.append([row], to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let header = try #require(BenchCSV.parse(text).first)
        #expect(header == BenchRow.loadgenColumns + ["tool", "status", "cpu_ns_per_request"])
        let rows = try BenchHistory(contentsOf: path).rows
        #expect(rows.count == 2)
        #expect(rows[0].commit == "abc1234-dirty" && rows[0].tool == "loadgen" && rows[0]["rps"] == "100")
        #expect(rows[0]["cpu_ns_per_request"] == "")
        #expect(rows[1] == row)
        // The same columns again: appended, not rewritten.
        try BenchHistory.append([row], to: path)
        let again = try String(contentsOfFile: path, encoding: .utf8)
        #expect(again.hasPrefix(text))
        #expect(try BenchHistory(contentsOf: path).rows.count == 3)
        // A file that is not a results file is refused, not appended to.
        let other = folder + "/other.csv"
        try "a,b\n1,2\n".write(toFile: other, atomically: true, encoding: .utf8)
        #expect(throws: BenchResultsError.self) { try BenchHistory.append([row], to: other) }
    }

    @Test("noise rule: a change counts only beyond max(floor, 2 × the spread of either side)")
    func noiseRule() throws {
        func rows(_ commit: String, _ rps: [Double]) -> [BenchRow] {
            rps.map {
                BenchRow([
                    "commit": commit, "scenario": "s", "tool": "loadgen", "target": "counter-service", "n": "1000",
                    "c": "10", "rps": String($0), "p99_ms": "5", "status": "PASS",
                ])
            }
        }
        func verdict(_ base: [Double], _ head: [Double]) -> (BenchComparison.Verdict?, Double?) {
            let delta = BenchComparison(
                base: rows("a", base), head: rows("b", head), baseName: "a", headName: "b"
            ).lines.first?.throughput
            return (delta?.verdict, delta?.band)
        }
        // Single runs: the 10 % floor.
        #expect(verdict([100], [89]) == (.regressed, 0.10))
        #expect(verdict([100], [91]) == (.unchanged, 0.10))
        #expect(verdict([100], [111]) == (.improved, 0.10))
        // Base spread (105 − 95) / 100 = 10 % → band 20 %: −15 % is noise, −25 % is not.
        #expect(verdict([95, 100, 105], [85, 85, 85]) == (.unchanged, 0.2))
        #expect(verdict([95, 100, 105], [75, 75, 75]).0 == .regressed)
        // The head's spread counts too: (100 − 60) / 80 = 50 % → band 100 %.
        let (wide, band) = verdict([100, 100, 100], [60, 80, 100])
        #expect(wide == .unchanged && abs((band ?? 0) - 1.0) < 1e-9)
        // A policy with other floors.
        let strict = BenchComparison(
            base: rows("a", [100]), head: rows("b", [96]), baseName: "a", headName: "b",
            policy: .init(throughputFloor: 0.03))
        #expect(strict.lines.first?.verdict == .regressed && strict.exitCode == 1)
        #expect(BenchComparison.Policy().band(floor: 0.25, base: [1, 1.2], head: [1]) > 0.36)
    }

    @Test("exit codes: 0 unchanged, 1 regressed or failed, 2 nothing comparable")
    func exitCodes() {
        func row(_ commit: String, _ scenario: String, status: String = "PASS") -> BenchRow {
            BenchRow([
                "commit": commit, "scenario": scenario, "tool": "loadgen", "n": "10", "c": "1", "rps": "100",
                "status": status,
            ])
        }
        #expect(
            BenchComparison(base: [row("a", "s")], head: [row("b", "s")], baseName: "a", headName: "b").exitCode == 0)
        #expect(
            BenchComparison(base: [row("a", "s")], head: [row("b", "t")], baseName: "a", headName: "b").exitCode == 2)
        let failed = BenchComparison(
            base: [row("a", "s")], head: [row("b", "s", status: "FAILED: exit 1")], baseName: "a", headName: "b")
        #expect(failed.exitCode == 1 && failed.lines.first?.verdict == .failed)
    }
}
