import LoadGenCLI
import ProcessKit

// Not a top-level `await` (an async main): see `blockingMain` — valgrind cannot follow a main thread that leaves
// through `dispatchMain()`.
blockingMain { await LoadGenCommand.runFromCommandLine() }
