/// What the HTTP front's two engines have in common: ``HTTPServer`` (SwiftNIO) and `EpollHTTPServer` (raw epoll).
public protocol HTTPServing: AnyObject, Sendable {
    /// Request and connection metrics.
    var metrics: HTTPMetrics { get }
    /// The bound port (after ``start()``).
    var port: Int { get }
    /// Binds and starts accepting connections.
    /// - Returns: the bound port.
    /// - Throws: when the address cannot be bound.
    @discardableResult
    func start() async throws -> Int
    /// Stops accepting, lets every connection finish its in-flight requests (up to the grace period), then closes
    /// what is left. Idempotent.
    func shutdown() async
}

extension HTTPServer: HTTPServing {}
