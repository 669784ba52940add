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
    /// The entries compiled for matching (made again by every ``add(_:_:name:)``).
    private var table = HTTPRouteTable(entries: [])

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
        table = HTTPRouteTable(
            entries: entries.map { entry in
                (
                    entry.method,
                    entry.segments.map { segment -> [UInt8]? in
                        if case .literal(let bytes) = segment { return bytes }
                        return nil
                    }
                )
            })
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
        var parameters = HTTPPathParameters(path: path)
        let found = table.match(method, path: path, parameters: &parameters)
        if found >= 0 { return .found(HTTPRoute(index: found), parameters) }
        if found == HTTPRouteTable.notFound { return .notFound }
        let wrongMethod = HTTPRouteTable.wrongMethodIndex(found)
        return .methodNotAllowed(HTTPRoute(index: wrongMethod), allow: allows[wrongMethod])
    }
}

/// The routes of an ``HTTPRouter`` laid out for matching: per route its method and a run of segments in one flat
/// table, the literals' bytes in one block, all in memory allocated once, so a match reads plain memory (no array
/// of enums holding arrays: no retain, release or bounds check per segment).
///
/// A match splits the path into its segments once, then considers only the routes with as many segments, comparing
/// literal segments by length before bytes; routes are still tried in declaration order.
final class HTTPRouteTable: @unchecked Sendable {
    // @unchecked Sendable: everything is written once, in `init`, and only read afterwards; the memory is owned by
    // this object and freed in `deinit`.

    /// A segment: a literal's offset in `literals` and its length, or length -1 for a parameter.
    private struct CompiledSegment {
        var offset: Int32
        var length: Int32
    }

    private struct CompiledEntry {
        var method: HTTPMethod
        var firstSegment: Int32
        var segmentCount: Int32
    }

    /// What ``match(_:path:parameters:)`` returns when no pattern matched.
    static let notFound = -1

    /// The route index encoded in a result below ``notFound``: a pattern matched, but with another method.
    static func wrongMethodIndex(_ result: Int) -> Int { -2 - result }

    private let entries: UnsafeMutablePointer<CompiledEntry>
    private let entryCount: Int
    private let segments: UnsafeMutablePointer<CompiledSegment>
    private let segmentCount: Int
    private let literals: UnsafeMutablePointer<UInt8>
    private let literalCount: Int
    /// The most segments of any pattern: a path with more matches nothing.
    private let maxSegments: Int

    /// - Parameter entries: per route, its method and its segments (a literal's bytes, or nil for a parameter).
    init(entries declared: [(HTTPMethod, [[UInt8]?])]) {
        var compiledEntries: [CompiledEntry] = []
        var compiledSegments: [CompiledSegment] = []
        var bytes: [UInt8] = []
        for (method, pattern) in declared {
            compiledEntries.append(
                CompiledEntry(
                    method: method, firstSegment: Int32(compiledSegments.count), segmentCount: Int32(pattern.count)))
            for segment in pattern {
                if let literal = segment {
                    compiledSegments.append(CompiledSegment(offset: Int32(bytes.count), length: Int32(literal.count)))
                    bytes += literal
                } else {
                    compiledSegments.append(CompiledSegment(offset: 0, length: -1))
                }
            }
        }
        entryCount = compiledEntries.count
        entries = .allocate(capacity: max(1, entryCount))
        entries.initialize(from: compiledEntries, count: entryCount)
        segmentCount = compiledSegments.count
        segments = .allocate(capacity: max(1, segmentCount))
        segments.initialize(from: compiledSegments, count: segmentCount)
        literalCount = bytes.count
        literals = .allocate(capacity: max(1, literalCount))
        literals.initialize(from: bytes, count: literalCount)
        maxSegments = declared.map(\.1.count).max() ?? 0
    }

    /// Whether `count` bytes at `a` and `b` are equal: overlapping 8- or 4-byte words, bytes only below 4.
    private static func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
        if count >= 8 {
            var offset = 0
            while true {
                let at = min(offset, count - 8)
                if a.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                    != b.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                {
                    return false
                }
                if at == count - 8 { return true }
                offset += 8
            }
        }
        if count >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
                    == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        }
        for index in 0..<count
        where a.load(fromByteOffset: index, as: UInt8.self)
            != b.load(
                fromByteOffset: index, as: UInt8.self)
        {
            return false
        }
        return true
    }

    deinit {
        entries.deinitialize(count: entryCount)
        entries.deallocate()
        segments.deinitialize(count: segmentCount)
        segments.deallocate()
        literals.deinitialize(count: literalCount)
        literals.deallocate()
    }

    /// Matches a path against the routes in declaration order.
    /// - Parameters:
    ///   - method: the request's method.
    ///   - path: the raw path.
    ///   - parameters: receives the parameters of the route found.
    /// - Returns: the index of the route found; ``notFound``; or, when only other methods' patterns matched,
    ///   `-2 - index` of the first of them (``wrongMethodIndex(_:)``).
    func match(_ method: HTTPMethod, path: UnsafeRawBufferPointer, parameters: inout HTTPPathParameters) -> Int {
        let count = path.count
        guard count > 0, path[0] == UInt8(ascii: "/"), maxSegments > 0, let base = path.baseAddress else {
            return Self.notFound
        }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: maxSegments) { ends in
            // The path's segments: segment k spans from the end of segment k-1 plus one (1 for the first) to
            // ends[k].
            var pathSegments = 0
            var position = 1
            while true {
                var end = position
                while end < count && path[end] != UInt8(ascii: "/") { end += 1 }
                if pathSegments == maxSegments { return Self.notFound }
                ends[pathSegments] = end
                pathSegments += 1
                if end == count { break }
                position = end + 1
            }
            var wrongMethod = -1
            for index in 0..<entryCount where Int(entries[index].segmentCount) == pathSegments {
                let first = Int(entries[index].firstSegment)
                var found = HTTPPathParameters(path: path)
                var start = 1
                var matched = true
                for number in 0..<pathSegments {
                    let segment = segments[first + number]
                    let end = ends[number]
                    let length = Int(segment.length)
                    if length < 0 {
                        found.append(start: start, count: end - start)
                    } else if end - start != length
                        || !Self.bytesEqual(base + start, literals + Int(segment.offset), count: length)
                    {
                        matched = false
                        break
                    }
                    start = end + 1
                }
                guard matched else { continue }
                if entries[index].method == method {
                    parameters = found
                    return index
                }
                if wrongMethod < 0 { wrongMethod = index }
            }
            return wrongMethod >= 0 ? -2 - wrongMethod : Self.notFound
        }
    }
}
