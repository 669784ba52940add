/// A route of an ``HTTPRouter``: its index is the route label's position in ``HTTPRouter/routeNames`` (metrics)
/// and what ``HTTPRouter/match(_:path:)`` returns.
public struct HTTPRoute: Hashable, Sendable {
    /// The position in ``HTTPRouter/routeNames``.
    public let index: Int
}

/// Routes declared once — method, path pattern, name — and matched without allocating.
///
/// ```swift
/// var router = HTTPRouter()
/// let increment = router.add(.post, "/counter/{id}/increment", name: "increment")
/// let get = router.add(.get, "/counter/{id}", name: "get")
/// …
/// switch router.match(request.method, path: path) {
/// case .found(increment, let parameters): … parameters[0] …
/// case .found(get, let parameters): …
/// case .found: …
/// case .methodNotAllowed(let route, let allow): 405 with `Allow: allow`, counted under `route`
/// case .notFound: 404, counted under `router.notFound`
/// }
/// ```
///
/// A pattern is a sequence of `/`-separated segments, each a literal or a parameter `{name}` that matches one
/// whole segment (possibly empty; never a `/`; `%2F` stays inside it). A path that matches a pattern with another
/// method answers 405 with the methods of every route of that pattern. Routes are tried in declaration order.
public struct HTTPRouter: Sendable {
    /// The most parameters a pattern may have.
    public static let maxParameters = 4

    private enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case parameter
    }

    private struct Entry: Sendable {
        let method: HTTPMethod
        let pattern: String
        let segments: [Segment]
    }

    private var entries: [Entry] = []
    private var names: [String] = []
    /// Per entry: the `Allow` value of its pattern (the methods of every route with the same pattern).
    private var allows: [String] = []

    public init() {}

    /// Declares a route.
    /// - Parameters:
    ///   - method: the method it serves.
    ///   - pattern: the path pattern, such as `/counter/{id}/increment`.
    ///   - name: its label in metrics.
    /// - Returns: the route, to compare with what ``match(_:path:)`` returns.
    @discardableResult
    public mutating func add(_ method: HTTPMethod, _ pattern: String, name: String) -> HTTPRoute {
        precondition(pattern.hasPrefix("/"), "a route pattern starts with /: \(pattern)")
        let segments = pattern.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .map { bytes -> Segment in
                if bytes.first == UInt8(ascii: "{") && bytes.last == UInt8(ascii: "}") { return .parameter }
                return .literal(Array(bytes))
            }
        precondition(
            segments.count(where: { $0 == .parameter }) <= Self.maxParameters,
            "at most \(Self.maxParameters) parameters in \(pattern)")
        precondition(
            !entries.contains { $0.method == method && $0.segments == segments }, "route declared twice: \(pattern)")
        entries.append(Entry(method: method, pattern: pattern, segments: segments))
        names.append(name)
        allows = entries.map { entry in
            entries.filter { $0.segments == entry.segments }.map { $0.method.token }.joined(separator: ", ")
        }
        return HTTPRoute(index: entries.count - 1)
    }

    /// The route labels for metrics: the routes' names in declaration order, then `not_found`
    /// (``HTTPService/routeNames``).
    public var routeNames: [String] { names + ["not_found"] }

    /// The route index under which unmatched paths are counted.
    public var notFound: HTTPRoute { HTTPRoute(index: entries.count) }

    /// The name of a route.
    public func name(of route: HTTPRoute) -> String { route.index < names.count ? names[route.index] : "not_found" }

    /// What a request's method and path matched.
    public enum Match {
        /// A route, with the path's parameters (views into the path: valid while the path is).
        case found(HTTPRoute, HTTPPathParameters)
        /// A route's pattern matched, but not its method: answer 405 with `Allow: allow`.
        case methodNotAllowed(HTTPRoute, allow: String)
        /// No pattern matched.
        case notFound
    }

    /// Matches a request. Allocates nothing.
    /// - Parameters:
    ///   - method: the request's method.
    ///   - path: the raw path (percent-encoded, without query), as ``HTTPRequest/withPath(_:)`` gives it.
    /// - Returns: the route and its parameters, a 405, or not found.
    public func match(_ method: HTTPMethod, path: UnsafeRawBufferPointer) -> Match {
        var wrongMethod = -1
        for index in entries.indices {
            guard let parameters = Self.match(entries[index].segments, path: path) else { continue }
            if entries[index].method == method { return .found(HTTPRoute(index: index), parameters) }
            if wrongMethod < 0 { wrongMethod = index }
        }
        if wrongMethod >= 0 { return .methodNotAllowed(HTTPRoute(index: wrongMethod), allow: allows[wrongMethod]) }
        return .notFound
    }

    private static func match(_ segments: [Segment], path: UnsafeRawBufferPointer) -> HTTPPathParameters? {
        guard path.count > 0, path[0] == UInt8(ascii: "/") else { return nil }
        var parameters = HTTPPathParameters(path: path)
        var position = 1
        for (number, segment) in segments.enumerated() {
            if number > 0 {
                guard position < path.count, path[position] == UInt8(ascii: "/") else { return nil }
                position += 1
            }
            var end = position
            while end < path.count && path[end] != UInt8(ascii: "/") { end += 1 }
            switch segment {
            case .literal(let literal):
                guard end - position == literal.count else { return nil }
                let equal = literal.withUnsafeBytes { bytes in
                    bytes.count == 0 || memcmp(bytes.baseAddress!, path.baseAddress! + position, bytes.count) == 0
                }
                guard equal else { return nil }
            case .parameter:
                parameters.append(start: position, count: end - position)
            }
            position = end
        }
        return position == path.count ? parameters : nil
    }
}

/// The parameters a path matched, in pattern order: views into the request's path, nothing copied.
public struct HTTPPathParameters {
    @usableFromInline let path: UnsafeRawBufferPointer
    // Inline storage for up to `HTTPRouter.maxParameters` (start << 32 | count) pairs: no array to allocate.
    @usableFromInline var ranges: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// How many parameters there are.
    public private(set) var count = 0

    init(path: UnsafeRawBufferPointer) {
        self.path = path
    }

    mutating func append(start: Int, count length: Int) {
        let packed = UInt64(start) << 32 | UInt64(length)
        switch count {
        case 0: ranges.0 = packed
        case 1: ranges.1 = packed
        case 2: ranges.2 = packed
        default: ranges.3 = packed
        }
        count += 1
    }

    /// The parameter at `index` (in pattern order).
    public subscript(index: Int) -> HTTPPathParameter {
        precondition(index >= 0 && index < count, "parameter \(index) of \(count)")
        let packed: UInt64
        switch index {
        case 0: packed = ranges.0
        case 1: packed = ranges.1
        case 2: packed = ranges.2
        default: packed = ranges.3
        }
        let start = Int(packed >> 32)
        return HTTPPathParameter(
            raw: UnsafeRawBufferPointer(rebasing: path[start..<(start + Int(packed & 0xFFFF_FFFF))]))
    }
}

/// One path parameter: its raw (percent-encoded) bytes in the request, and their decoding.
public struct HTTPPathParameter {
    /// The raw bytes, still percent-encoded.
    public let raw: UnsafeRawBufferPointer

    /// Whether the segment is empty.
    public var isEmpty: Bool { raw.isEmpty }

    /// Calls `body` with the decoded bytes: the raw bytes themselves when there is no escape, otherwise a decoded
    /// copy in a temporary buffer. Allocates nothing for segments up to 1 KiB.
    /// - Parameter body: receives valid UTF-8.
    /// - Returns: what `body` returns, or nil when an escape is malformed or the result is not valid UTF-8.
    public func withDecoded<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        try PercentDecoding.withDecodedSegment(raw, body)
    }

    /// The decoded text (allocates for more than 15 UTF-8 bytes, as any `String` does).
    /// - Returns: nil when an escape is malformed or the result is not valid UTF-8.
    public func decoded() -> String? {
        PercentDecoding.decodeSegment(raw)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
