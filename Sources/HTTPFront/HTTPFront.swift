// The JSON writer and string escaper live in `JSONText`, shared with loadgen's JSON report (one escaper for the
// project); services that answer JSON through this module get it with it.
@_exported import JSONText
