import Foundation

/// Executables of this package, found where SwiftPM put them: beside the running test bundle, in the same build
/// folder (`.build/<configuration>/`), whatever the clone's location or the scratch path.
public enum BuiltExecutable {
    /// The path of the product `name` built with the tests (`swift build --build-tests` builds every product).
    /// - Throws: ``FixtureError`` naming the folders looked in when it is not built.
    public static func path(_ name: String) throws -> String {
        var directories: [URL] = []
        // Linux: the test runner is an executable `…/<configuration>/<package>PackageTests.xctest`.
        if let executable = Bundle.main.executableURL {
            directories.append(executable.deletingLastPathComponent())
        }
        // Darwin: the bundle is a folder `…/<configuration>/<package>PackageTests.xctest`.
        directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for directory in directories {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw FixtureError(
            "\(name) is not built (looked in \(directories.map(\.path))); run `swift build --build-tests`")
    }
}
