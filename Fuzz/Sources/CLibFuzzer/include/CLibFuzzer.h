#ifndef CLIBFUZZER_H
#define CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): parses libFuzzer's flags from argc/argv and fuzzes
/// `callback`. The fuzz executables call it from their own entry point, because SwiftPM links a debug executable's
/// `main` to `<Module>_main`, which libFuzzer's own `main` would not satisfy.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
