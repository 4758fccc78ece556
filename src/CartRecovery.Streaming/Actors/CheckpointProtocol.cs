using System.Diagnostics;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// A partition's checkpoint protocol, apart from the actor that drives it: a capture (taken between batches) waits
/// until the writer reports every earlier output durable, then is saved; one save at a time, and only the newest
/// waiting capture is kept (it covers everything an older one did). A save answers every request up to it.
/// </summary>
internal sealed class CheckpointProtocol
{
    /// <param name="Delta">Journaled after the last full snapshot rather than saved as one.</param>
    /// <param name="Generation">The change generation the capture covers (<see cref="Checkpointing.CheckpointChanges"/>).</param>
    public sealed record Capture(long Sequence, byte[] Bytes, IReadOnlyDictionary<string, long> Offsets, bool Drained, long CapturedAt,
        bool Delta = false, long Generation = 0);

    /// <summary>A save that completed: what to report, and how many requests it answers.</summary>
    public sealed record Saved(long Sequence, IReadOnlyDictionary<string, long> Offsets, bool Drained, int Bytes, TimeSpan Duration, int Answered,
        bool Delta);

    private readonly List<long> _unanswered = [];
    private Capture? _waiting;
    private Capture? _saving;

    /// <summary>A new capture replaces any that has not started saving.</summary>
    public void Captured(long sequence, byte[] bytes, IReadOnlyDictionary<string, long> offsets, bool drained, bool delta = false, long generation = 0)
    {
        _unanswered.Add(sequence);
        _waiting = new Capture(sequence, bytes, offsets, drained, Stopwatch.GetTimestamp(), delta, generation);
    }

    /// <summary>The writer made everything before <paramref name="sequence"/> durable: the capture to save now, if any.</summary>
    public Capture? Durable(long sequence) => _waiting is { } waiting && waiting.Sequence == sequence ? NextToSave() : null;

    /// <summary>The waiting capture, when no save is running (it is then the one saving).</summary>
    public Capture? NextToSave()
    {
        if (_saving is not null || _waiting is not { } next) return null;
        _waiting = null;
        _saving = next;
        return next;
    }

    /// <summary>The running save succeeded (null when none was running).</summary>
    public Saved? Succeeded()
    {
        if (_saving is not { } saved) return null;
        _saving = null;
        var answered = _unanswered.RemoveAll(sequence => sequence <= saved.Sequence);
        return new Saved(saved.Sequence, saved.Offsets, saved.Drained, saved.Bytes.Length, Stopwatch.GetElapsedTime(saved.CapturedAt), answered,
            saved.Delta);
    }

    public void Failed() => _saving = null;
}
