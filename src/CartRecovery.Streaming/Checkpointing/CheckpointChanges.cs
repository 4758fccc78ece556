namespace CartRecovery.Streaming.Checkpointing;

/// <summary>
/// What makes a partition's checkpoint cost follow the change rather than the state: the shoppers whose state (or
/// sessions) changed since the last checkpoint that began saving, and whether the next checkpoint is a full snapshot
/// or a delta journaled after it. A full snapshot is due when the deltas journaled since the last one add up to its
/// size, so a restore reads at most about twice the state, and each checkpoint in between writes only what changed.
/// </summary>
internal sealed class CheckpointChanges
{
    // Shopper id -> the change generation in which it last changed: a change after a capture stays for the next one.
    private readonly Dictionary<string, long> _changed = new(StringComparer.Ordinal);
    private long _snapshotBytes;
    private long _journaledBytes;
    // The generation of the newest erasure not yet covered by a full snapshot that began saving (0: none).
    private long _fullRequiredFor;

    /// <summary>Advances with every batch that changed something; a capture remembers the generation it covers.</summary>
    public long Generation { get; private set; }

    public IEnumerable<string> Changed => _changed.Keys;

    /// <summary>No full snapshot yet, the deltas since the last one are as large as it, or an erasure asked for one.</summary>
    public bool NextIsFull => _fullRequiredFor > 0 || _snapshotBytes == 0 || _journaledBytes >= _snapshotBytes;

    /// <summary>A shopper was erased (in the current generation): the snapshot and deltas saved so far still hold them,
    /// and only a newer full snapshot deletes those (docs/compliance.md), so captures are full until one saves.</summary>
    public void RequireFull() => _fullRequiredFor = Generation;

    /// <summary>A full capture covering changes up to <paramref name="generation"/> began saving; true when it is the
    /// one that removes an erased shopper from the checkpoints (the older rows it replaces must then be deleted).</summary>
    public bool FullSaving(long generation)
    {
        if (_fullRequiredFor == 0 || generation < _fullRequiredFor) return false;
        _fullRequiredFor = 0;
        return true;
    }

    public void Touched(IEnumerable<string> shopperIds)
    {
        Generation++;
        foreach (var id in shopperIds) _changed[id] = Generation;
    }

    /// <summary>A capture covering changes up to <paramref name="generation"/> began saving: they are in it.</summary>
    public void Saving(long generation)
    {
        List<string>? saved = null;
        foreach (var (id, changedIn) in _changed)
            if (changedIn <= generation) (saved ??= []).Add(id);
        if (saved is not null) foreach (var id in saved) _changed.Remove(id);
    }

    /// <summary>A full snapshot of <paramref name="bytes"/> was saved (or restored).</summary>
    public void SnapshotSaved(long bytes)
    {
        _snapshotBytes = Math.Max(1, bytes);
        _journaledBytes = 0;
    }

    /// <summary>A delta of <paramref name="bytes"/> was journaled (or replayed).</summary>
    public void DeltaSaved(long bytes) => _journaledBytes += bytes;
}
