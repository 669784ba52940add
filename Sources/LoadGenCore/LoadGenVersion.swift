/// The loadgen version written into summaries, JSON and results rows.
public enum LoadGenVersion {
    /// Semantic version of the tool and of its output formats.
    public static let string = "0.1.0"
}
