import LoadGenCLI

await LoadGenCommand.runFromCommandLine()
