import Foundation

/// Paths of the fixed files under `Tests/LoadGenCoreTests/Fixtures/`.
enum Fixture {
    /// The fixtures folder, found from this source file's location.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The path of a fixture.
    ///
    /// - Parameter name: the path inside the fixtures folder.
    /// - Returns: the absolute path.
    static func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    /// A fresh temporary folder, removed by the caller.
    ///
    /// - Returns: its path.
    static func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("loadgencore-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
