// Test-only helpers (a raw HTTP client, a blocking executor). The process helpers that services use too (child
// processes, a nats-server child, free ports) live in `ProcessKit`; re-exported so a test needs one import.
@_exported import ProcessKit
