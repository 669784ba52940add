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

#if canImport(Glibc)
    import Glibc
#endif
