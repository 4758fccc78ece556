namespace CartRecovery.Traffic.Import;

/// <summary>The recorded-input formats the replay and backtest commands read.</summary>
public static class ImportFormats
{
    /// <summary>The project's own event contract, one JSON event per line, as a topic dump gives.</summary>
    public const string Ndjson = "ndjson";
    /// <summary>The public REES46 e-commerce behaviour dataset (CSV).</summary>
    public const string Rees46 = "rees46";
    /// <summary>The public Alibaba Taobao "UserBehavior" dataset (CSV without a header).</summary>
    public const string Taobao = "taobao";

    public static readonly IReadOnlyList<string> All = [Rees46, Taobao, Ndjson];

    /// <summary>Opens <paramref name="path"/> and streams its events in file order; bad lines go to <paramref name="statistics"/>.</summary>
    /// <param name="defaults">rees46, taobao: the importer's choices; null: the format's own (<see cref="ClickstreamDefaults"/>).</param>
    public static IEnumerable<GeneratedEvent> Read(string path, string format, ImportStatistics statistics, ClickstreamDefaults? defaults = null)
    {
        if (!File.Exists(path)) throw new ArgumentException($"--input: file not found: {path}");
        return format switch
        {
            Ndjson => ReadBytes(path, stream => NdjsonImporter.Read(stream, statistics)),
            Rees46 => ReadWith(path, reader => Rees46Importer.Read(reader, defaults ?? ClickstreamDefaults.Rees46, statistics)),
            Taobao => ReadWith(path, reader => TaobaoImporter.Read(reader, defaults ?? ClickstreamDefaults.Taobao, statistics)),
            _ => throw new ArgumentException($"--format: unknown format '{format}' ({string.Join(", ", All)})"),
        };
    }

    private static IEnumerable<GeneratedEvent> ReadBytes(string path, Func<Stream, IEnumerable<GeneratedEvent>> read)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        foreach (var evt in read(stream)) yield return evt;
    }

    private static IEnumerable<GeneratedEvent> ReadWith(string path, Func<TextReader, IEnumerable<GeneratedEvent>> read)
    {
        using var reader = new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        foreach (var evt in read(reader)) yield return evt;
    }
}
