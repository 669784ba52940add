#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import ArgumentParser
import BenchResults
import Foundation
import LoadGenCore

/// `loadgen`: the root command. ArgumentParser dispatches to its subcommands: `compare` and `report` by name, and
/// anything else to the default subcommand, the hey-compatible load run (``RunCommand``), so that
/// `loadgen -n 100000 -c 200 URL` works as it always did. (A subcommand is recognized only as the first argument and
/// only when it is a plain word: a URL or a flag never is one.)
public struct LoadGenCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "A hey-compatible HTTP load generator with exact tails, correctness checks and a results history.",
        version: LoadGenVersion.string,
        subcommands: [RunCommand.self, CompareCommand.self, ReportCommand.self],
        defaultSubcommand: RunCommand.self,
        // hey's `-h` is a (deprecated) flag of the run, and `--help` prints hey's usage (``UsageError/usage``), which
        // lists the subcommands: the root claims neither.
        helpNames: [])

    public init() {}

    /// The subcommands a user names (`compare`, `report`), with their one-line abstracts.
    public static var namedSubcommands: [(name: String, abstract: String)] {
        configuration.subcommands.filter { $0.configuration.shouldDisplay }.map {
            ($0._commandName, $0.configuration.abstract)
        }
    }

    /// Parses the command line and runs the chosen subcommand. A load run's usage errors are printed hey-style
    /// (message, blank line, usage; exit 1); the other subcommands report theirs as ArgumentParser does.
    ///
    /// - Parameter arguments: the arguments without the program name.
    public static func runFromCommandLine(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) async {
        let named = namedSubcommands.map(\.name) + ["help"]
        let isLoadRun = !(arguments.first.map(named.contains) ?? false)
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as UsageError {
            usageAndExit(error.description)
        } catch let error as ExitCode {
            terminate(error.rawValue)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch {
            if !isLoadRun || exitCode(for: error) == .success { exit(withError: error) }
            if error is LoadEngine.StartError || error is HTTPFetch.FetchError || error is BenchResultsError
                || error is CocoaError
            {
                writeAll(fileDescriptor: 2, Array("loadgen: \(error)\n".utf8))
                terminate(1)
            }
            usageAndExit(message(for: error))
        }
    }

    /// hey's `usageAndExit`: the message, a blank line, the usage, exit 1.
    private static func usageAndExit(_ message: String) -> Never {
        var text = ""
        if !message.isEmpty { text += message + "\n\n" }
        text += UsageError.usage + "\n\n"
        writeAll(fileDescriptor: 2, Array(text.utf8))
        terminate(1)
    }

    private static func terminate(_ code: Int32) -> Never {
        #if canImport(Glibc)
            Glibc.exit(code)
        #else
            Darwin.exit(code)
        #endif
    }
}
