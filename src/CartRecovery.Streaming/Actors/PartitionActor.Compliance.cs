using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>The partition's compliance duties (docs/compliance.md): erasure of a shopper and the audit chain.</summary>
public sealed partial class PartitionActor
{
    /// <summary>
    /// Erases a shopper: the rows this batch already holds about them are chained and redacted, the erasure is audited
    /// (the last row of the shopper's chain), and everything the partition keeps about them (policy state, sessions and
    /// their actors and timers, identity links) is forgotten, so the next checkpoint no longer holds them and later
    /// events start from nothing. An anonymous id linked to a customer passes the request on: the person is erased.
    /// The writer erases what the analytics store already has (<see cref="ShopperErasure"/>).
    /// </summary>
    private void Erase(string shopperId, ErasureRequested request, ShopperCommand command)
    {
        var batch = _batch!;
        var pseudonyms = new ErasurePseudonyms(_engine.Policy.Keys, shopperId);
        var pseudonym = pseudonyms.Shopper;
        if (_routing.Route(_identity, shopperId, request, command.Hops, command.Watermark) is { } route) CarryOut(route);

        ChainAudits(batch, shopperId);
        Redact(batch.Triggers, t => t.ShopperId == shopperId, t => Erasure.Redact(t, pseudonyms));
        Redact(batch.Audits, a => a.ShopperId == shopperId, a => Erasure.Redact(a, pseudonyms));
        Redact(batch.Outcomes, o => o.ShopperId == shopperId, o => Erasure.Redact(o, pseudonyms));
        Redact(batch.OutcomeRows, o => o.ShopperId == shopperId, o => Erasure.Redact(o, pseudonyms));
        // A profile is all derived from the shopper's behaviour: nothing of it is kept.
        batch.Profiles.RemoveAll(p => p.ShopperId == shopperId);

        var head = _shoppers.TryGetValue(shopperId, out var shopper) ? shopper.AuditHead : null;
        var sessions = TakeSessions(shopperId);
        var scope = $"sessions={sessions.Count} state={(shopper is null ? 0 : 1)}";
        batch.Audits.Add(AuditChain.Link(head, Erasure.Audit(request, pseudonym, _engine.Policy.Version, scope), pseudonym, _engine.Policy.Keys));
        _shoppers.Remove(shopperId);
        _identity = _identity.Forget(shopperId);
        _frontier = _frontier.Forget(shopperId);
        // Changed: the next checkpoint, if incremental, records the shopper as gone (docs/performance.md, checkpoints).
        batch.Touched.Add(shopperId);
        batch.Erasures.Add(new ShopperErasure(shopperId, pseudonym, pseudonyms.Session));
    }

    /// <summary>
    /// Links the batch's unchained audit rows (of one shopper, or of all) into their shoppers' chains, in the order they
    /// were decided (<see cref="AuditChain.LinkAll"/>), and keeps the chains' new heads in the shopper states. Runs only
    /// while no command is in flight, so the heads it starts from are current.
    /// </summary>
    private void ChainAudits(PartitionBatch batch, string? onlyShopper = null)
    {
        var linking = AuditChain.LinkAll(batch.Audits, shopperId => _shoppers.TryGetValue(shopperId, out var shopper) ? shopper.AuditHead : null, _engine.Policy.Keys, onlyShopper);
        var audits = batch.Audits;
        for (var i = 0; i < audits.Count; i++) audits[i] = linking.Rows[i];
        foreach (var (shopperId, head) in linking.Heads)
        {
            _shoppers[shopperId] = Shopper(shopperId) with { AuditHead = head };
            batch.Touched.Add(shopperId);
        }
    }

    /// <summary>The audit row of a record refused as not the worker's own (<see cref="Ingest.InternalRecords"/>): the
    /// shopper it named, the event and dead-letter ids as evidence, the reason in detail.</summary>
    private AuditRecord RefusedRecordAudit(Ingest.InputRecord record) =>
        InputRefusals.Audit(record.Refused!, record.Rejected!.Reason, record.Rejected.Detail, record.Rejected.DeadLetterId, _engine.Policy.Version);

    private static void Redact<T>(List<T> rows, Func<T, bool> names, Func<T, T> redact)
    {
        for (var i = 0; i < rows.Count; i++)
            if (names(rows[i])) rows[i] = redact(rows[i]);
    }
}
