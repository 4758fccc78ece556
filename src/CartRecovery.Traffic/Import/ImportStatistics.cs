namespace CartRecovery.Traffic.Import;

/// <summary>A line of the input the importer skipped: where it is and why. Never the line's content (it may hold
/// personal data).</summary>
public sealed record BadLine(long LineNumber, string Reason, string Detail)
{
    public override string ToString() => $"line {LineNumber}: {Reason} ({Detail})";
}

/// <summary>What an import read: data lines, events produced, bad lines skipped. Filled while the import streams.</summary>
public sealed class ImportStatistics
{
    private readonly List<BadLine> _badLines = [];

    public long DataLines { get; private set; }
    public long EventsProduced { get; private set; }
    public IReadOnlyList<BadLine> BadLines => _badLines;
    public double BadShare => DataLines == 0 ? 0 : (double)_badLines.Count / DataLines;

    /// <summary>Called for each bad line as it is found (e.g. to report it at once).</summary>
    public Action<BadLine>? OnBadLine { get; init; }

    internal void CountLine() => DataLines++;
    internal void CountEvent() => EventsProduced++;

    internal void Reject(long lineNumber, string reason, string detail)
    {
        var bad = new BadLine(lineNumber, reason, detail);
        _badLines.Add(bad);
        OnBadLine?.Invoke(bad);
    }
}
