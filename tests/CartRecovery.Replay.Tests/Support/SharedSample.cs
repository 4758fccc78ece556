namespace CartRecovery.Replay.Tests.Support;

/// <summary>The recorded REES46 sample in ../shared/data beside the repository (never copied into it).</summary>
public static class SharedSample
{
    public const string FileName = "rees46-2019-10-01-sample.csv";

    public static string Path { get; } = System.IO.Path.GetFullPath(System.IO.Path.Combine(Cli.RepoRoot, "..", "shared", "data", FileName));

    public static bool Exists => File.Exists(Path);
}

/// <summary>A fact that needs the shared REES46 sample; skipped, saying why, when the file is absent.</summary>
public sealed class SharedSampleFactAttribute : FactAttribute
{
    public SharedSampleFactAttribute()
    {
        if (!SharedSample.Exists)
            Skip = $"the recorded REES46 sample is not at {SharedSample.Path} (it lives in ../shared/data beside the repository and is not copied into it)";
    }
}
