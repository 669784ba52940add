import NIOCore
import Testing

@testable import LoadGenCore
