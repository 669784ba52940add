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

    @Test func bodyPlaceholdersRenderWithTheirContentLength() throws {
        var o = LoadOptions(url: try TargetURL("http://h/transfers"))
        o.method = "POST"
        o.body = Array(#"{"from":"a{rand:1000}","to":"a{rand:1000}","n":{n},"x":{"y":1}}"#.utf8)
        let template = RequestTemplate(options: o)
        #expect(template.hasPlaceholders)
        var random = SplitMix64(seed: 9)
        var expected = SplitMix64(seed: 9)
        var buffer = ByteBuffer()
        for sequence in [0, 7, 12_345] {
            template.render(sequence: sequence, random: &random, into: &buffer)
            let text = String(buffer: buffer)
            let from = expected.next(below: 1000)
            let to = expected.next(below: 1000)
            let body = #"{"from":"a\#(from)","to":"a\#(to)","n":\#(sequence),"x":{"y":1}}"#
            #expect(text.hasPrefix("POST /transfers HTTP/1.1\r\n"))
            #expect(text.contains("\r\nContent-Length: \(body.utf8.count)\r\n"))
            #expect(text.hasSuffix("\r\n\r\n" + body))
            #expect(buffer.readableBytes <= template.maximumSize)
        }
    }

    @Test func placeholdersInBothTargetAndBodyDrawInOrder() throws {
        var o = LoadOptions(url: try TargetURL("http://h/k{rand:10}"))
        o.method = "POST"
        o.body = Array("v={rand:100000}".utf8)
        let template = RequestTemplate(options: o)
        var random = SplitMix64(seed: 3)
        var expected = SplitMix64(seed: 3)
        var buffer = ByteBuffer()
        for _ in 0..<50 {
            template.render(sequence: 0, random: &random, into: &buffer)
            let key = expected.next(below: 10)
            let value = "v=\(expected.next(below: 100_000))"
            let text = String(buffer: buffer)
            #expect(text.hasPrefix("POST /k\(key) HTTP/1.1\r\n"))
            #expect(text.contains("Content-Length: \(value.utf8.count)\r\n") && text.hasSuffix("\r\n\r\n" + value))
        }
    }

    @Test func aBodyWithoutPlaceholdersStaysStatic() throws {
        var o = LoadOptions(url: try TargetURL("http://h/a"))
        o.method = "POST"
        o.body = Array(#"{"amount": 1, "o": {"n": 2}, "t": "{rand:0}"}"#.utf8)
        let template = RequestTemplate(options: o)
        #expect(!template.hasPlaceholders)
        let body = String(decoding: o.body, as: UTF8.self)
        #expect(text(o).contains("\r\nContent-Length: \(o.body.count)\r\n") && text(o).hasSuffix("\r\n\r\n" + body))
    }

    @Test func randomStaysBelowTheBound() {
        var random = SplitMix64(seed: 7)
        var seen = Set<UInt64>()
        for _ in 0..<10_000 { seen.insert(random.next(below: 10)) }
        #expect(seen == Set(0..<10))
    }
}
