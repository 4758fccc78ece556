using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Domain.Compliance;

/// <summary>A break in the audit chain.</summary>
/// <param name="Kind">altered (the row's content no longer matches its hash), missing (the row it links to is gone),
/// reordered (it links to a row that is not its predecessor in sequence), forked (two rows claim the same predecessor),
/// unchained (a row without chain fields), moved (its shopper_id or session_id is not the id its pseudonym stands for),
/// unanchored (the newest row of a chain is not the head the writer anchored: rows appended, or a chain made up),
/// head_missing (an anchored head is not in the log: the chain was deleted or cut short), head_forged (an anchor whose
/// MAC does not verify), downgraded (a version-1 row after a version-2 row).</param>
public sealed record ChainProblem(string Kind, string Pseudonym, long Seq, string AuditId, string Detail)
{
    public const string Altered = "altered";
    public const string Missing = "missing";
    public const string Reordered = "reordered";
    public const string Forked = "forked";
    public const string Unchained = "unchained";
    public const string Moved = "moved";
    public const string Unanchored = "unanchored";
    public const string HeadMissing = "head_missing";
    public const string HeadForged = "head_forged";
    public const string Downgraded = "downgraded";
}

/// <summary>The result of verifying every chain of an audit log.</summary>
public sealed record ChainReport(int Rows, int Chains, IReadOnlyList<ChainProblem> Problems)
{
    public bool Intact => Problems.Count == 0;
}

/// <summary>
/// Recomputes every chain of the audit log (<see cref="AuditChain"/>) and reports each row where it breaks. Pure: the
/// CLI (<c>./run.sh audit verify</c>) reads the rows and the anchored heads, this decides. A deleted row shows as
/// <c>missing</c> at its successor, an edited one as <c>altered</c>, a row moved to another position (its sequence
/// number or link edited, its hash recomputed by the editor) as <c>reordered</c> or <c>forked</c>. With the keys, a row
/// whose shopper_id or session_id was changed to another shopper's or session's shows as <c>moved</c>. With the anchored
/// heads (<see cref="AuditChainAnchors"/>), a chain deleted whole or cut short shows as <c>head_missing</c>, and a chain
/// rebuilt by an editor who recomputed its hashes as <c>unanchored</c> (and <c>head_missing</c> for the one it replaced).
/// </summary>
public static class AuditChainVerifier
{
    public static ChainReport Verify(IReadOnlyCollection<AuditRecord> rows) => Verify(rows, null, null);

    /// <param name="keys">Checks that each row's ids belong to its pseudonyms, and the anchors' MACs (null: neither).</param>
    /// <param name="heads">The anchored heads (null: not checked, e.g. a store written before heads were anchored).</param>
    public static ChainReport Verify(IReadOnlyCollection<AuditRecord> rows, IReadOnlyCollection<AnchoredHead>? heads, ComplianceKeys? keys)
    {
        var problems = new List<ChainProblem>();
        var chains = 0;
        var anchors = heads?.GroupBy(h => h.ShopperPseudonym, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal)
            ?? new Dictionary<string, List<AnchoredHead>>(StringComparer.Ordinal);
        foreach (var chain in rows.GroupBy(r => r.ShopperPseudonym, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            if (chain.Key.Length == 0)
            {
                foreach (var row in chain.OrderBy(r => r.AuditId, StringComparer.Ordinal))
                    problems.Add(new ChainProblem(ChainProblem.Unchained, "", 0, row.AuditId, "no chain fields (written before the audit chain existed, or stripped)"));
                continue;
            }
            chains++;
            var byHash = new Dictionary<string, AuditRecord>(StringComparer.Ordinal);
            foreach (var row in chain) byHash.TryAdd(row.ChainHash, row);
            foreach (var successors in chain.Where(r => r.ChainPrev.Length > 0).GroupBy(r => r.ChainPrev, StringComparer.Ordinal).Where(g => g.Count() > 1))
                foreach (var row in successors.OrderBy(r => r.ChainSeq).ThenBy(r => r.AuditId, StringComparer.Ordinal).Skip(1))
                    problems.Add(new ChainProblem(ChainProblem.Forked, chain.Key, row.ChainSeq, row.AuditId,
                        $"links to the same predecessor as another row ({successors.Count()} rows)"));
            foreach (var row in chain.OrderBy(r => r.ChainSeq).ThenBy(r => r.AuditId, StringComparer.Ordinal))
            {
                if (AuditChain.HashOf(row) != row.ChainHash)
                    problems.Add(new ChainProblem(ChainProblem.Altered, chain.Key, row.ChainSeq, row.AuditId, "content does not match its chain_hash"));
                if (keys is not null && Moved(row, keys) is { } moved)
                    problems.Add(new ChainProblem(ChainProblem.Moved, chain.Key, row.ChainSeq, row.AuditId, moved));
                if (row.ChainPrev.Length == 0)
                {
                    if (row.ChainSeq != 1)
                        problems.Add(new ChainProblem(ChainProblem.Reordered, chain.Key, row.ChainSeq, row.AuditId, "starts a chain but its chain_seq is not 1"));
                    continue;
                }
                if (!byHash.TryGetValue(row.ChainPrev, out var previous))
                    problems.Add(new ChainProblem(ChainProblem.Missing, chain.Key, row.ChainSeq, row.AuditId,
                        $"the row before it (chain_seq {row.ChainSeq - 1}) is not in the log"));
                else if (previous.ChainSeq != row.ChainSeq - 1)
                    problems.Add(new ChainProblem(ChainProblem.Reordered, chain.Key, row.ChainSeq, row.AuditId,
                        $"links to the row with chain_seq {previous.ChainSeq}, expected {row.ChainSeq - 1}"));
                else if (previous.ChainVersion >= 2 && row.ChainVersion < 2)
                    problems.Add(new ChainProblem(ChainProblem.Downgraded, chain.Key, row.ChainSeq, row.AuditId,
                        "a version-1 row after a version-2 row: rows are never written with an older hash"));
            }
            if (heads is not null) CheckAnchors(chain.Key, [.. chain], byHash, anchors.GetValueOrDefault(chain.Key) ?? [], keys, problems);
        }
        // Anchored chains with no row left at all: deleted whole.
        if (heads is not null)
            foreach (var (pseudonym, anchored) in anchors.Where(a => !rows.Any(r => r.ShopperPseudonym == a.Key)).OrderBy(a => a.Key, StringComparer.Ordinal))
                foreach (var head in anchored.OrderBy(h => h.ChainHash, StringComparer.Ordinal))
                    problems.Add(new ChainProblem(ChainProblem.HeadMissing, pseudonym, head.ChainSeq, "",
                        $"the chain's anchored head (chain_seq {head.ChainSeq}) is not in the log: the chain was deleted"));
        return new ChainReport(rows.Count, chains, problems);
    }

    /// <summary>Every anchored head of the pseudonym must be a row of the log, and every chain's newest version-2 row an
    /// anchored head with a valid MAC.</summary>
    private static void CheckAnchors(string pseudonym, List<AuditRecord> chain, Dictionary<string, AuditRecord> byHash, List<AnchoredHead> anchored,
        ComplianceKeys? keys, List<ChainProblem> problems)
    {
        var valid = new HashSet<string>(StringComparer.Ordinal);
        foreach (var head in anchored.OrderBy(h => h.ChainSeq).ThenBy(h => h.ChainHash, StringComparer.Ordinal))
        {
            if (keys is not null && !AuditChainAnchors.Verify(keys, head))
            {
                problems.Add(new ChainProblem(ChainProblem.HeadForged, pseudonym, head.ChainSeq, "", "the anchored head's MAC does not verify (written without the record key)"));
                continue;
            }
            valid.Add(head.ChainHash);
            if (!byHash.TryGetValue(head.ChainHash, out var row) || row.ChainSeq != head.ChainSeq)
                problems.Add(new ChainProblem(ChainProblem.HeadMissing, pseudonym, head.ChainSeq, "",
                    $"the chain's anchored head (chain_seq {head.ChainSeq}) is not in the log: rows were deleted from its end, or the chain was rewritten"));
        }
        var linkedTo = chain.Select(r => r.ChainPrev).Where(p => p.Length > 0).ToHashSet(StringComparer.Ordinal);
        // A row whose successor was deleted is not a tip: the break is reported once, as missing at the later row.
        var dangling = chain.Where(r => r.ChainPrev.Length > 0 && !byHash.ContainsKey(r.ChainPrev)).Select(r => r.ChainSeq).ToList();
        foreach (var tip in chain.Where(r => !linkedTo.Contains(r.ChainHash) && r.ChainVersion >= 2 && !dangling.Any(seq => seq > r.ChainSeq))
                     .OrderBy(r => r.ChainSeq).ThenBy(r => r.AuditId, StringComparer.Ordinal))
            if (!valid.Contains(tip.ChainHash))
                problems.Add(new ChainProblem(ChainProblem.Unanchored, pseudonym, tip.ChainSeq, tip.AuditId,
                    "the newest row of its chain is not an anchored head: rows added, or a chain rebuilt, by someone other than the writer"));
    }

    /// <summary>Why the row's ids are not the ones its pseudonyms stand for (null: they are). An erased row carries the
    /// pseudonym itself in place of the id.</summary>
    private static string? Moved(AuditRecord row, ComplianceKeys keys)
    {
        if (row.ChainVersion < 2) return row.ShopperId == row.ShopperPseudonym || keys.Pseudonym(row.ShopperId) == row.ShopperPseudonym
            ? null : "shopper_id is not the shopper of its chain";
        if (row.ShopperId != row.ShopperPseudonym && keys.Pseudonym(row.ShopperId) != row.ShopperPseudonym)
            return "shopper_id is not the shopper of its chain (its pseudonym differs)";
        if (row.SessionId != row.SessionPseudonym && keys.SessionPseudonym(row.ShopperId, row.SessionId) != row.SessionPseudonym)
            return "session_id is not the session the row was written for (its pseudonym differs)";
        return null;
    }
}
