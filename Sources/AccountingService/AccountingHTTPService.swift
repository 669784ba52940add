import AccountingDomain
import ClstrRuntime
import EventSourcing
import HTTPFront
import NIOCore

/// The accounting API over HTTP, on the event loops.
///
/// | route | answer |
/// |---|---|
/// | `POST /accounts/{id}` `{"initial": N}` (optional) | 201 `{"account_id","balance","version"}`; 409 if it exists |
/// | `POST /accounts/{id}/deposit` `{"amount": N}` | 200 `{"account_id","balance","version"}` |
/// | `POST /accounts/{id}/withdraw` `{"amount": N}` | 200; 409 `{"error":"insufficient funds","balance":B}` |
/// | `GET /accounts/{id}` | 200 balance and version; 404 unknown |
/// | `GET /accounts/{id}/events?from=V&limit=N` | the stream: type, version, position, occurred_at, data |
/// | `POST /transfers` `{"from","to","amount"}` | 200 when both legs are done; 409/404 with nothing moved |
/// | `GET /stats` | accounts, total balance, projection position and lag |
///
/// Every POST takes an `Idempotency-Key` header (1…200 printable ASCII bytes): a retry with the same key
/// returns the first answer and appends nothing, also after a restart (the key is stored with the events).
/// Errors are `{"error":"…","code":"…"}`: 400 (bad ID, invalid JSON, bad key), 404, 405, 409, 413, 422 (amount
/// not an integer in 1…Int64.max), 503 (not applied: the store or cluster refused), 504 (`outcome_unknown`: it
/// may have been applied; retry with the same Idempotency-Key).
final class AccountingHTTPService: HTTPService {
    struct Routes: Sendable {
        let router: HTTPRouter
        let index: HTTPRoute
        let open: HTTPRoute
        let get: HTTPRoute
        let deposit: HTTPRoute
        let withdraw: HTTPRoute
        let events: HTTPRoute
        let transfer: HTTPRoute
        let stats: HTTPRoute

        init() {
            var router = HTTPRouter()
            index = router.add(.get, "/", name: "index")
            open = router.add(.post, "/accounts/{id}", name: "open")
            get = router.add(.get, "/accounts/{id}", name: "get")
            deposit = router.add(.post, "/accounts/{id}/deposit", name: "deposit")
            withdraw = router.add(.post, "/accounts/{id}/withdraw", name: "withdraw")
            events = router.add(.get, "/accounts/{id}/events", name: "events")
            transfer = router.add(.post, "/transfers", name: "transfer")
            stats = router.add(.get, "/stats", name: "stats")
            self.router = router
        }
    }

    static let indexText: StaticString = """
        Accounting (swift-clstr): event-sourced bank accounts

        POST /accounts/{id}                 open, body {"initial": N} (optional)
        POST /accounts/{id}/deposit         body {"amount": N}
        POST /accounts/{id}/withdraw        body {"amount": N}
        GET  /accounts/{id}                 balance and version
        GET  /accounts/{id}/events          the account's events (?from=V&limit=N)
        POST /transfers                     body {"from": "a", "to": "b", "amount": N}
        GET  /stats                         accounts and total balance (a projection of the log)
        Idempotency-Key: K on a POST        a retry returns the first answer

        """

    let routes = Routes()
    var routeNames: [String] { routes.router.routeNames }
    let client: ClusterClient
    let stats: StatsProjection?

    init(client: ClusterClient, stats: StatsProjection?) {
        self.client = client
        self.stats = stats
    }

    func handle(_ request: HTTPRequest, exchange: borrowing HTTPExchange) {
        request.withPath { path in
            switch routes.router.match(request.method, path: path) {
            case .found(let route, let parameters):
                serve(route, parameters, request, exchange)
            case .methodNotAllowed(let route, let allow):
                exchange.respond(
                    Self.error(.methodNotAllowed, "method not allowed", code: "method_not_allowed", allow: allow),
                    route: route.index)
            case .notFound:
                exchange.respond(
                    Self.error(.notFound, "not found", code: "not_found"), route: routes.router.notFound.index)
            }
        }
    }

    private func serve(
        _ route: HTTPRoute, _ parameters: HTTPPathParameters, _ request: HTTPRequest, _ exchange: borrowing HTTPExchange
    ) {
        if route == routes.index {
            return exchange.respond(
                HTTPResponse(status: .ok, contentType: .plainText, body: .staticText(Self.indexText)),
                route: route.index)
        }
        if route == routes.stats { return respondStats(route, exchange) }
        var key = ""
        if request.method == .post, let raw = request.idempotencyKey {
            guard let valid = Self.idempotencyKey(raw) else {
                return exchange.respond(
                    Self.error(.badRequest, "Idempotency-Key must be 1…200 printable ASCII bytes", code: "bad_request"),
                    route: route.index)
            }
            key = valid
        }
        if route == routes.transfer { return startTransfer(route, request, key: key, exchange) }
        guard let id = exchange.string(for: parameters[0]), AccountID.isValid(id) else {
            return exchange.respond(
                Self.error(
                    .badRequest, "account ID must be 1…\(AccountID.maxBytes) letters, digits, '-' or '_'",
                    code: "bad_request"),
                route: route.index)
        }
        let target: HTTPReplyTarget
        switch route {
        case routes.get:
            target = exchange.deferResponse(route: route.index, key: id)
            client.request(GetAccount(), key: id, replyTo: target.replyTo, context: target.context)
        case routes.events:
            guard let (from, limit) = Self.eventsQuery(request) else {
                return exchange.respond(
                    Self.error(
                        .badRequest, "from and limit must be positive integers (limit ≤ 1000)", code: "bad_request"),
                    route: route.index)
            }
            target = exchange.deferResponse(route: route.index, key: id)
            client.request(
                ReadAccountEvents(from: from, limit: limit), key: id, replyTo: target.replyTo, context: target.context)
        default:
            let command: AccountCommand
            switch Self.amount(
                request, field: route == routes.open ? "initial" : "amount", optional: route == routes.open)
            {
            case .success(let amount):
                command =
                    route == routes.open
                    ? .open(initial: amount)
                    : route == routes.deposit ? .deposit(amount: amount) : .withdraw(amount: amount)
            case .failure(let refusal):
                return exchange.respond(refusal.response, route: route.index)
            }
            target = exchange.deferResponse(route: route.index, key: id)
            client.request(
                AccountCommandRequest(command, idempotencyKey: key), key: id, replyTo: target.replyTo,
                context: target.context)
        }
    }

    private func respondStats(_ route: HTTPRoute, _ exchange: borrowing HTTPExchange) {
        guard let stats else {
            return exchange.respond(
                Self.error(
                    .serviceUnavailable,
                    "no event store in this process (a gateway serves /stats with --store jetstream)",
                    code: "store_unavailable"),
                route: route.index)
        }
        let totals = stats.current
        let (position, head) = stats.follower.progress
        var json = JSONWriter()
        json.writeRaw(#"{"accounts":"#)
        json.writeInt(totals.accounts)
        json.writeRaw(#","total_balance":"#)
        json.writeInt(Int(totals.totalBalance))
        json.writeRaw(#","events":"#)
        json.writeInt(totals.events)
        json.writeRaw(#","position":"#)
        json.writeInt(Int(position))
        json.writeRaw(#","head":"#)
        json.writeInt(Int(head))
        json.writeRaw(#","lag":"#)
        json.writeInt(Int(stats.follower.lag))
        json.writeRaw("}")
        exchange.respond(HTTPResponse(status: .ok, contentType: .json, body: .string(json.string)), route: route.index)
    }

    private func startTransfer(
        _ route: HTTPRoute, _ request: HTTPRequest, key: String, _ exchange: borrowing HTTPExchange
    ) {
        let members: [String: RequestBody.Value]
        switch request.body.withUnsafeReadableBytes({ RequestBody.parse($0) }) {
        case .object(let object): members = object
        case .notObject:
            return exchange.respond(
                Self.error(.unprocessableContent, "body must be a JSON object", code: "invalid_body"),
                route: route.index)
        case .invalid(let reason):
            return exchange.respond(
                Self.error(.badRequest, "invalid JSON: \(reason)", code: "invalid_json"), route: route.index)
        }
        guard case .string(let from)? = members["from"], AccountID.isValid(from),
            case .string(let to)? = members["to"], AccountID.isValid(to)
        else {
            return exchange.respond(
                Self.error(.badRequest, "from and to must be account IDs", code: "bad_request"), route: route.index)
        }
        guard from != to else {
            return exchange.respond(
                Self.error(.unprocessableContent, "from and to must differ", code: "invalid_transfer"),
                route: route.index)
        }
        guard case .integer(let amount)? = members["amount"], amount > 0 else {
            return exchange.respond(
                Self.error(
                    .unprocessableContent, "amount must be an integer in 1…\(Int64.max)", code: "invalid_amount"),
                route: route.index)
        }
        let transferID = key.isEmpty ? EventID.random().hex : "k-" + key
        let target = exchange.deferResponse(route: route.index, key: transferID)
        TransferRun(
            client: client, transferID: transferID, from: from, to: to, amount: amount, replyTo: target.replyTo,
            context: target.context
        ).start()
    }

    // MARK: Answers

    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder) {
        if deferred.route == routes.transfer.index {
            return renderTransfer(outcome, deferred, &response)
        }
        if deferred.route == routes.events.index {
            switch outcome.decode(as: String.self) {
            case .success(let json):
                response.body.writeString(json)
            case .failure(let error):
                Self.fail(error, &response)
            }
            return
        }
        switch outcome.decode(as: AccountReply.self) {
        case .success(let reply):
            if let error = reply.domainError {
                return Self.refuse(error, &response)
            }
            if deferred.route == routes.open.index { response.status = HTTPStatus(code: 201) }
            response.body.writeJSON(
                #"{"account_id":"#, string: deferred.key, #","balance":"#, int: Int(reply.balance), #","version":"#,
                int: Int(reply.version), "}")
        case .failure(let error):
            Self.fail(error, &response)
        }
    }

    private func renderTransfer(
        _ outcome: Outcome, _ deferred: HTTPDeferredRequest, _ response: inout HTTPResponseBuilder
    ) {
        switch outcome {
        case .success(let value as TransferOutcome):
            switch value {
            case .done(let fromBalance, let toBalance):
                response.body.writeStaticString(#"{"transfer_id":"#)
                response.body.writeJSONString(deferred.key)
                response.body.writeStaticString(#","status":"completed","from_balance":"#)
                response.body.writeDecimal(Int(fromBalance))
                response.body.writeStaticString(#","to_balance":"#)
                response.body.writeDecimal(Int(toBalance))
                response.body.writeStaticString("}")
            case .refused(let error, let account):
                Self.refuse(error, &response, account: account)
            }
        case .success:
            response.error(.internalServerError, "unexpected transfer outcome")
        case .failure(let error):
            Self.fail(error, &response)
        }
    }

    /// A domain refusal: nothing was appended.
    static func refuse(_ error: AccountError, _ response: inout HTTPResponseBuilder, account: String? = nil) {
        let status: HTTPStatus
        switch error {
        case .accountNotFound: status = .notFound
        case .invalidAmount: status = .unprocessableContent
        default: status = .conflict
        }
        response.status = status
        response.contentType = .json
        response.body.clear()
        response.body.writeStaticString(#"{"error":"#)
        response.body.writeJSONString(error.description)
        response.body.writeStaticString(#","code":"#)
        response.body.writeJSONString(error.code)
        if let balance = error.balance {
            response.body.writeStaticString(#","balance":"#)
            response.body.writeDecimal(Int(balance))
        }
        if let account {
            response.body.writeStaticString(#","account_id":"#)
            response.body.writeJSONString(account)
        }
        response.body.writeStaticString("}")
    }

    /// An infrastructure failure: 503 when the request was certainly not applied, 504 (`outcome_unknown`) when it
    /// may have been.
    static func fail(_ error: RequestError, _ response: inout HTTPResponseBuilder) {
        let status: HTTPStatus
        let code: String
        switch error.code {
        case .outcomeUnknown, .deadlineExceeded:
            status = .gatewayTimeout
            code = RequestError.Code.outcomeUnknown.rawValue
        // `disconnected` and `transportClosed` promise the request was not sent (a request lost in flight is
        // `outcomeUnknown`).
        case AccountingErrorCode.storeUnavailable, .noResponder, .mailboxFull, .stopped, .disconnected,
            .transportClosed:
            status = .serviceUnavailable
            code = "unavailable"
        case .badRequest:
            status = .badRequest
            code = "bad_request"
        default:
            status = .internalServerError
            code = "internal"
        }
        response.status = status
        response.contentType = .json
        response.body.clear()
        response.body.writeStaticString(#"{"error":"#)
        response.body.writeJSONString(
            status == .gatewayTimeout
                ? "outcome unknown (it may have been applied: retry with the same Idempotency-Key): \(error)"
                : status == .serviceUnavailable ? "not applied: \(error)" : "\(error)")
        response.body.writeStaticString(#","code":"#)
        response.body.writeJSONString(code)
        response.body.writeStaticString("}")
    }

    // MARK: Parsing

    /// An error answer `{"error":"…","code":"…"}`.
    static func error(_ status: HTTPStatus, _ message: String, code: String, allow: String? = nil) -> HTTPResponse {
        var json = JSONWriter()
        json.writeRaw(#"{"error":"#)
        json.writeString(message)
        json.writeRaw(#","code":"#)
        json.writeString(code)
        json.writeRaw("}")
        var response = HTTPResponse(status: status, contentType: .json, body: .string(json.string))
        if let allow { response.allow = allow }
        return response
    }

    struct Refusal: Error {
        let response: HTTPResponse
    }

    /// The amount (or initial balance) of a body: `{"<field>": N}`.
    static func amount(_ request: HTTPRequest, field: StaticString, optional: Bool) -> Result<Int64, Refusal> {
        if request.body.readableBytes == 0 {
            if optional { return .success(0) }
            return .failure(
                Refusal(
                    response: error(.unprocessableContent, "body {\"\(field)\": N} required", code: "invalid_amount")))
        }
        let lowest: Int64 = optional ? 0 : 1
        // `{"amount": N}` as every client sends it: read without building the members' dictionary.
        if let value = request.body.withUnsafeReadableBytes({ RequestBody.singleInteger($0, field: field) }),
            value >= lowest
        {
            return .success(value)
        }
        switch request.body.withUnsafeReadableBytes({ RequestBody.parse($0) }) {
        case .invalid(let reason):
            return .failure(Refusal(response: error(.badRequest, "invalid JSON: \(reason)", code: "invalid_json")))
        case .notObject:
            return .failure(
                Refusal(response: error(.unprocessableContent, "body must be a JSON object", code: "invalid_body")))
        case .object(let members):
            switch members[field.description] {
            case .integer(let value)? where value >= lowest:
                return .success(value)
            case nil where optional:
                return .success(0)
            default:
                return .failure(
                    Refusal(
                        response: error(
                            .unprocessableContent, "\(field) must be an integer in \(lowest)…\(Int64.max)",
                            code: "invalid_amount")))
            }
        }
    }

    /// `from` and `limit` of the events query (defaults 1 and 100).
    static func eventsQuery(_ request: HTTPRequest) -> (UInt64, Int)? {
        let query = request.target.withUnsafeReadableBytes { raw -> [UInt8] in
            guard let mark = raw.firstIndex(of: UInt8(ascii: "?")) else { return [] }
            return Array(raw[(mark + 1)...])
        }
        var from: UInt64 = 1
        var limit = 100
        for pair in query.split(separator: UInt8(ascii: "&")) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let name = String(decoding: parts[0], as: UTF8.self)
            guard let value = UInt64(String(decoding: parts[1], as: UTF8.self)), value > 0 else { return nil }
            switch name {
            case "from": from = value
            case "limit":
                guard value <= 1000 else { return nil }
                limit = Int(value)
            default: continue
            }
        }
        return (from, limit)
    }

    /// A valid Idempotency-Key: 1…200 bytes of printable ASCII.
    static func idempotencyKey(_ raw: ByteBuffer) -> String? {
        guard (1...200).contains(raw.readableBytes) else { return nil }
        let valid = raw.withUnsafeReadableBytes { bytes in bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F } }
        return valid ? String(buffer: raw) : nil
    }
}
