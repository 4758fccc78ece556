using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Domain.Compliance;

/// <summary>A break in the audit chain.</summary>
/// <param name="Kind">altered (the row's content no longer matches its hash), missing (the row it links to is gone),
/// reordered (it links to a row that is not its predecessor in sequence), forked (two rows claim the same predecessor),
/// unchained (a row without chain fields).</param>
public sealed record ChainProblem(string Kind, string Pseudonym, long Seq, string AuditId, string Detail)
{
    public const string Altered = "altered";
    public const string Missing = "missing";
    public const string Reordered = "reordered";
    public const string Forked = "forked";
    public const string Unchained = "unchained";
}

/// <summary>The result of verifying every chain of an audit log.</summary>
public sealed record ChainReport(int Rows, int Chains, IReadOnlyList<ChainProblem> Problems)
{
    public bool Intact => Problems.Count == 0;
}

/// <summary>
/// Recomputes every chain of the audit log (<see cref="AuditChain"/>) and reports each row where it breaks. Pure: the
/// CLI (<c>./run.sh audit verify</c>) reads the rows, this decides. A deleted row shows as <c>missing</c> at its
/// successor, an edited one as <c>altered</c>, a row moved to another position (its sequence number or link edited, its
/// hash recomputed by the editor) as <c>reordered</c> or <c>forked</c>. Known limit: removing the newest rows of a chain
/// leaves a shorter valid chain; the erasure row and later decisions of the shopper extend it, and an external anchor of
/// chain heads would close this gap (docs/compliance.md).
/// </summary>
public static class AuditChainVerifier
{
    public static ChainReport Verify(IReadOnlyCollection<AuditRecord> rows)
    {
        var problems = new List<ChainProblem>();
        var chains = 0;
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
            }
        }
        return new ChainReport(rows.Count, chains, problems);
    }
}
