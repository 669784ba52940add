import NIOCore
import Testing

@testable import LoadGenCore

@Suite struct RequestTemplateTests {
    private func text(_ options: LoadOptions) -> String {
        let template = RequestTemplate(options: options)
        var buffer = ByteBuffer()
        var random = SplitMix64(seed: 1)
        template.render(sequence: 41, random: &random, into: &buffer)
        return String(buffer: buffer)
    }

    @Test func getIsHeyShaped() throws {
        let o = LoadOptions(url: try TargetURL("http://127.0.0.1:8080/a?b=c"))
        #expect(
            text(o)
                == "GET /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: loadgen/\(LoadGenVersion.string)\r\n"
                + "Content-Type: text/html\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(!RequestTemplate(options: o).hasPlaceholders)
    }

    @Test func proxyKeepAliveCompressionAndUserAgent() throws {
        var o = LoadOptions(url: try TargetURL("http://example.test/x"))
        o.proxy = ("127.0.0.1", 3128)
        o.disableKeepAlive = true
        o.disableCompression = true
        o.userAgent = "bench"
        o.method = "POST"
        #expect(
            text(o)
                == "POST http://example.test/x HTTP/1.1\r\nHost: example.test\r\nUser-Agent: bench\r\n"
                + "Content-Length: 0\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
    }

    @Test func placeholdersRenderIntoTheReusedBuffer() throws {
        let o = LoadOptions(url: try TargetURL("http://h/k/{n}/{rand:1}/{other}"))
        let template = RequestTemplate(options: o)
        #expect(template.hasPlaceholders)
        #expect(text(o).hasPrefix("GET /k/41/0/{other} HTTP/1.1\r\n"))
    }

    @Test func randomStaysBelowTheBound() {
        var random = SplitMix64(seed: 7)
        var seen = Set<UInt64>()
        for _ in 0..<10_000 { seen.insert(random.next(below: 10)) }
        #expect(seen == Set(0..<10))
    }
}
