using System.Security.Cryptography;
using System.Text;

namespace CartRecovery.Traffic.Import;

/// <summary>A line of the input the importer skipped: where it is and why. Never the line's content (it may hold
/// personal data): only its SHA-256, as a live dead letter keeps of its payload.</summary>
public sealed record BadLine(long LineNumber, string Reason, string Detail)
{
    /// <summary>SHA-256 (lowercase hex) of the line's UTF-8 bytes without the line break.</summary>
    public string PayloadSha256 { get; init; } = "";

    /// <summary>Event time of the last event the import accepted before this line (where the line sits in the recording's
    /// time); null when none came before it.</summary>
    public DateTimeOffset? After { get; init; }

    public override string ToString() => $"line {LineNumber}: {Reason} ({Detail})";
}

/// <summary>What an import read: data lines, events produced, bad lines skipped. Filled while the import streams.</summary>
public sealed class ImportStatistics
{
    private readonly List<BadLine> _badLines = [];
    private DateTimeOffset? _lastEventTime;

    public long DataLines { get; private set; }
    public long EventsProduced { get; private set; }
    public IReadOnlyList<BadLine> BadLines => _badLines;
    public double BadShare => DataLines == 0 ? 0 : (double)_badLines.Count / DataLines;

    /// <summary>Event time of the first event the import accepted.</summary>
    public DateTimeOffset? FirstEventTime { get; private set; }

    /// <summary>Called for each bad line as it is found (e.g. to report it at once).</summary>
    public Action<BadLine>? OnBadLine { get; init; }

    internal void CountLine() => DataLines++;

    internal void CountEvent(DateTimeOffset eventTime)
    {
        EventsProduced++;
        FirstEventTime ??= eventTime;
        _lastEventTime = eventTime;
    }

    internal void Reject(long lineNumber, string reason, string detail, string line) => Reject(lineNumber, reason, detail, Encoding.UTF8.GetBytes(line));

    /// <summary>A bad line by its exact bytes (a line that is not valid UTF-8 keeps its own hash).</summary>
    internal void Reject(long lineNumber, string reason, string detail, ReadOnlySpan<byte> line)
    {
        var bad = new BadLine(lineNumber, reason, detail)
        {
            PayloadSha256 = Convert.ToHexStringLower(SHA256.HashData(line)),
            After = _lastEventTime,
        };
        _badLines.Add(bad);
        OnBadLine?.Invoke(bad);
    }
}
