import LoadGenCore

await LoadGenCommand.runFromCommandLine()
