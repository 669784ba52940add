import NIOCore
import Testing

@testable import HTTPFront

@Suite("HTTPResponseEncoder")
struct HTTPResponseEncoderTests {
    private func head(_ status: HTTPStatus, keepAlive: Bool = true) -> String {
        var output = ByteBuffer()
        HTTPResponseEncoder.writeHead(
            into: &output, status: status, contentType: .json, contentLength: 2, keepAlive: keepAlive, http10: false,
            allow: nil)
        return String(buffer: output)
    }

    @Test("a 503 (certainly not applied) carries Retry-After on the fast and the slow path; a 504 does not")
    func retryAfter() {
        #expect(head(.serviceUnavailable).contains("\r\nRetry-After: 1\r\n"))
        #expect(head(.serviceUnavailable, keepAlive: false).contains("\r\nRetry-After: 1\r\n"))
        #expect(!head(.gatewayTimeout).contains("Retry-After"))
        #expect(!head(.ok).contains("Retry-After"))
    }

    @Test("an error with a code renders both fields as JSON")
    func errorWithCode() throws {
        var builder = HTTPResponseBuilder(body: ByteBuffer())
        builder.error(.gatewayTimeout, "outcome \"unknown\"", code: "outcome_unknown")
        #expect(builder.status == .gatewayTimeout)
        #expect(String(buffer: builder.body) == #"{"error":"outcome \"unknown\"","code":"outcome_unknown"}"#)
    }
}
