extension ClusterRequest {
    /// The reserved header prefix (compared case-insensitively): the runtime's own headers on the wire.
    public static let reservedHeaderPrefix = "x-clstr-"

    /// Checks the envelope rules: the shard is in range, a deadline is set, no header uses the reserved prefix.
    ///
    /// Clients check before sending and nodes check again on arrival (a request from another process may not have
    /// gone through a client of this runtime). Allocates only when it fails.
    /// - Parameter numShards: the cluster's shard count.
    /// - Returns: `nil` when the request is well-formed, otherwise a ``RequestError`` with code `badRequest`.
    @inlinable
    public func validationError(numShards: Int) -> RequestError? {
        if shard < 0 || shard >= numShards {
            return RequestError(.badRequest, "shard \(shard) is out of range 0..<\(numShards)")
        }
        if deadline == 0 {
            return RequestError(.badRequest, "request without a deadline")
        }
        if !headers.isEmpty, let name = headers.keys.first(where: Self.isReservedHeader) {
            return RequestError(
                .badRequest, "header \"\(name)\" uses the reserved prefix \"\(Self.reservedHeaderPrefix)\"")
        }
        return nil
    }

    /// Whether `name` starts with `x-clstr-`, ignoring ASCII case; compares UTF-8 bytes without allocating.
    /// - Parameter name: a header name.
    /// - Returns: `true` for a reserved name.
    @inlinable
    public static func isReservedHeader(_ name: String) -> Bool {
        var expected = reservedHeaderPrefix.utf8.makeIterator()
        var actual = name.utf8.makeIterator()
        while let want = expected.next() {
            guard var byte = actual.next() else { return false }
            if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }  // ASCII upper → lower
            if byte != want { return false }
        }
        return true
    }

}
