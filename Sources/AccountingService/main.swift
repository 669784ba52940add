import ProcessKit

// Not `@main` with an async `main`: see `blockingMain` (valgrind cannot follow a main thread that leaves through
// `dispatchMain()`, so `make bench-instructions` could not run the service).
blockingMain { await AccountingCommand.main() }
