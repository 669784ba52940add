import ProcessKit

// Not `@main` with an async `main`: see `blockingMain` (valgrind cannot follow a main thread that leaves through
// `dispatchMain()`).
blockingMain { await CounterServiceCommand.main() }
