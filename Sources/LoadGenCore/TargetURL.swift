/// An `http://host[:port]/path?query` URL, split into what the engine needs.
///
/// Only `http` is supported; `https` is rejected with a clear message. The path and query are kept as written
/// (they are sent verbatim as the request target), including any `{n}` / `{rand:N}` placeholders.
public struct TargetURL: Sendable, Equatable, CustomStringConvertible {
    /// Why a URL was rejected.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// Human-readable reason.
        public let description: String
    }

    /// `http`.
    public let scheme: String
    /// Host name or address, without brackets for IPv6 literals.
    public let host: String
    /// TCP port (80 by default).
    public let port: Int
    /// Whether the port was written explicitly (then it is part of the Host header).
    public let explicitPort: Bool
    /// Path and query, starting with `/`.
    public let pathAndQuery: String
    /// The URL exactly as given.
    public let description: String

    /// Parses an absolute http URL.
    /// - Parameter string: the URL text.
    /// - Throws: ``ParseError`` for a missing/unsupported scheme, an empty host or a bad port.
    public init(_ string: String) throws(ParseError) {
        description = string
        guard let schemeEnd = string.range(of: "://") else {
            throw ParseError(description: "parse \"\(string)\": invalid URI for request")
        }
        let scheme = string[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" else {
            if scheme == "https" {
                throw ParseError(description: "https:// is not supported yet (use http://)")
            }
            throw ParseError(description: "unsupported protocol scheme \"\(scheme)\"")
        }
        self.scheme = scheme
        let rest = string[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            authority = authority[authority.index(after: at)...]
        }
        var path = String(rest[authorityEnd...])
        if path.isEmpty {
            path = "/"
        } else if path.first == "?" {
            path = "/" + path
        }
        pathAndQuery = path
        var hostPart = Substring(authority)
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw ParseError(description: "parse \"\(string)\": missing ']' in host")
            }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else {
            throw ParseError(description: "parse \"\(string)\": no host in request URL")
        }
        host = String(hostPart)
        if let portPart, !portPart.isEmpty {
            guard let p = Int(portPart), (1...65535).contains(p) else {
                throw ParseError(description: "parse \"\(string)\": invalid port \":\(portPart)\" after host")
            }
            port = p
            explicitPort = true
        } else {
            port = 80
            explicitPort = false
        }
    }

    /// The value of the Host header for this URL (`host` or `host:port`).
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return explicitPort ? "\(h):\(port)" : h
    }

    /// The path without the query (used as `url_path` in results rows).
    public var path: String {
        if let q = pathAndQuery.firstIndex(of: "?") { return String(pathAndQuery[..<q]) }
        return pathAndQuery
    }
}
