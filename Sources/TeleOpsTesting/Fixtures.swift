import Foundation

/// Sample payloads kept in the repository under `Tests/Fixtures` (the reference samples of
/// each monitoring source, plus variants written for the tests).
///
/// ```swift
/// let body = try Fixtures.data("alerts/sensu-go-event.json")
/// ```
public enum Fixtures {
    /// `Tests/Fixtures` in the source tree this module was built from.
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures")

    public static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// Every file under `Tests/Fixtures/folder` whose name ends with `suffix`, sorted by name.
    public static func files(in folder: String, suffix: String = ".json") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)
            .filter { $0.hasSuffix(suffix) }.sorted().map { "\(folder)/\($0)" }
    }
}
