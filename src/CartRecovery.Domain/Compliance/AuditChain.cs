using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Domain.Compliance;

/// <summary>The newest row of a shopper's audit chain: the next row links to it. <paramref name="Root"/> is the hash of
/// the chain's first row (a shopper whose state was forgotten starts a new chain under the same pseudonym), empty for a
/// head checkpointed before roots were kept.</summary>
public sealed record AuditChainHead(long Seq, string Hash, string Root = "");

/// <summary>Rows after <see cref="AuditChain.LinkAll"/>: all of them, in the order given, and the new head of every chain that
/// grew (by shopper id).</summary>
public sealed record AuditChainLinking(System.Collections.Immutable.ImmutableArray<AuditRecord> Rows, IReadOnlyDictionary<string, AuditChainHead> Heads);

/// <summary>
/// The tamper-evident audit log: every audit row carries <c>chain_hash</c> = SHA-256 over <see cref="Canonical"/> (the
/// previous row's hash, its position and its content), so a deleted, altered or reordered row breaks the chain at that
/// point (<c>./run.sh audit verify</c>). Chains are per shopper, in the order the shopper's decisions are taken, which is
/// a function of the input alone (a shopper's commands run one at a time), so a replay rebuilds the same chain and a
/// row written twice after a crash carries the same hash (ReplacingMergeTree keeps one copy of identical rows).
///
/// What the hash covers (version 2, docs/compliance.md): every column a decision or the ledger reads, with the shopper
/// and the session as their keyed pseudonyms (erasure replaces the ids, never the pseudonyms, so an erased chain still
/// verifies); the verifier checks with the key that <c>shopper_id</c> and <c>session_id</c> are the ids (or the
/// pseudonyms) those pseudonyms stand for, so a row moved to another shopper or session is caught. Rows of version 1
/// (written before) keep their hash, which left out the shopper id, the session and the factors.
/// </summary>
public static class AuditChain
{
    public const int CurrentVersion = 2;

    /// <summary>Links <paramref name="row"/> after <paramref name="head"/> (null: it starts a chain).</summary>
    public static AuditRecord Link(AuditChainHead? head, AuditRecord row, string pseudonym, ComplianceKeys keys)
    {
        // The hash from the link's values, so the linked row is made in one copy, not one to hash and one to carry it
        // (every audit row is linked).
        var sessionPseudonym = keys.SessionPseudonym(row.ShopperId, row.SessionId);
        var seq = (head?.Seq ?? 0) + 1;
        var prev = head?.Hash ?? "";
        var hash = Hex(CanonicalV2(row, prev, seq, pseudonym, sessionPseudonym));
        return row with
        {
            ShopperPseudonym = pseudonym,
            SessionPseudonym = sessionPseudonym,
            ChainVersion = CurrentVersion,
            ChainSeq = seq,
            ChainPrev = prev,
            ChainHash = hash,
            ChainRoot = head is null ? hash : head.Root,
        };
    }

    public static AuditChainHead HeadOf(AuditRecord linked) => new(linked.ChainSeq, linked.ChainHash, linked.ChainRoot);

    /// <summary>
    /// Links the unchained rows of <paramref name="rows"/> (those of <paramref name="onlyShopper"/> alone, when given) into
    /// their shoppers' chains, in the order given: the order the decisions were taken, so the chains are the same however
    /// the rows of different shoppers interleave. Rows already linked, and other shoppers' rows, come back unchanged.
    /// </summary>
    /// <param name="currentHead">The head of a shopper's chain before these rows (null: none yet); asked once per shopper.</param>
    public static AuditChainLinking LinkAll(IReadOnlyList<AuditRecord> rows, Func<string, AuditChainHead?> currentHead, ComplianceKeys keys,
        string? onlyShopper = null)
    {
        var linked = new AuditRecord[rows.Count];
        var heads = new Dictionary<string, AuditChainHead>(StringComparer.Ordinal);
        for (var i = 0; i < linked.Length; i++)
        {
            var row = rows[i];
            if (row.ChainHash.Length > 0 || (onlyShopper is not null && row.ShopperId != onlyShopper))
            {
                linked[i] = row;
                continue;
            }
            var head = heads.TryGetValue(row.ShopperId, out var grown) ? grown : currentHead(row.ShopperId);
            // A row that already names its shopper by the pseudonym (erasure's) keeps it: its id may be that pseudonym.
            linked[i] = Link(head, row, row.ShopperPseudonym.Length > 0 ? row.ShopperPseudonym : keys.Pseudonym(row.ShopperId), keys);
            heads[row.ShopperId] = HeadOf(linked[i]);
        }
        return new AuditChainLinking(System.Runtime.InteropServices.ImmutableCollectionsMarshal.AsImmutableArray(linked), heads);
    }

    /// <summary>The hash a row must carry, from its own fields (<see cref="AuditRecord.ChainHash"/> itself excluded).</summary>
    public static string HashOf(AuditRecord row) => Hex(Canonical(row));

    private static string Hex(ReadOnlySpan<byte> canonical)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Decisions.DigestInput.Sha256(canonical, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>
    /// The exact bytes a row's chain hash is computed over: the one definition of what the chain covers (documented in
    /// docs/compliance.md; erasure must change nothing in it). Version 2: a label, <c>chain_prev</c>, <c>chain_seq</c>,
    /// <c>shopper_pseudonym</c>, <c>session_pseudonym</c>, <c>audit_id</c>, <c>decision</c>, <c>reason</c>, <c>step</c>,
    /// <c>channel</c>, <c>evidence</c>, <c>score</c>, <c>top_factors</c>, <c>policy_version</c>, <c>detail</c>,
    /// <c>event_time</c> (ms), <c>kind</c>; each text length-prefixed and each list count-prefixed, so no value can shift
    /// bytes between fields. The returned span is valid until the next digest on this thread.
    /// </summary>
    public static ReadOnlySpan<byte> Canonical(AuditRecord row) => row.ChainVersion >= 2 ? CanonicalV2(row) : CanonicalV1(row);

    private static ReadOnlySpan<byte> CanonicalV2(AuditRecord row) =>
        CanonicalV2(row, row.ChainPrev, row.ChainSeq, row.ShopperPseudonym, row.SessionPseudonym);

    /// <summary>Version 2 of <paramref name="row"/> with the link's own fields given (<see cref="Link"/>: the row before it is linked).</summary>
    private static ReadOnlySpan<byte> CanonicalV2(AuditRecord row, string chainPrev, long chainSeq, string shopperPseudonym, string sessionPseudonym)
    {
        var input = Decisions.DigestInput.Start().Part("audit-chain-v2");
        Text(input, chainPrev);
        input.Part(chainSeq);
        Text(input, shopperPseudonym);
        Text(input, sessionPseudonym);
        Text(input, row.AuditId);
        Text(input, row.Decision);
        Text(input, row.Reason);
        input.Part(row.Step);
        Text(input, row.Channel);
        List(input, row.Evidence);
        // Scores are stored as Float64: the shortest round-trip text is what ClickHouse returns too.
        input.RoundTrip(row.Score).Separator();
        List(input, row.TopFactors);
        Text(input, row.PolicyVersion);
        Text(input, row.Detail);
        input.Part(row.EventTime.ToUnixTimeMilliseconds());
        Text(input, row.Kind);
        return input.Bytes;
    }

    private static void Text(Decisions.DigestInput input, string text) => input.Part(text.Length).Part(text);

    private static void List(Decisions.DigestInput input, IReadOnlyList<string> items)
    {
        input.Part(items.Count);
        foreach (var item in items) Text(input, item);
    }

    /// <summary>Version 1, kept so rows written before version 2 still verify.</summary>
    private static ReadOnlySpan<byte> CanonicalV1(AuditRecord row)
    {
        // Each field then a unit separator, hashed at once (Decisions.DigestInput: no per-field arrays or number strings).
        var input = Decisions.DigestInput.Start()
            .Part("audit-chain-v1")
            .Part(row.ChainPrev)
            .Part(row.ChainSeq)
            .Part(row.ShopperPseudonym)
            .Part(row.AuditId)
            .Part(row.Decision)
            .Part(row.Reason)
            .Part(row.Step)
            .Part(row.Channel);
        for (var i = 0; i < row.Evidence.Count; i++)
        {
            if (i > 0) input.Text(",");
            input.Text(row.Evidence[i]);
        }
        input.Separator()
            // Scores are stored as Float64: the shortest round-trip text is what ClickHouse returns too.
            .RoundTrip(row.Score).Separator()
            .Part(row.PolicyVersion)
            .Part(row.Detail)
            .Part(row.EventTime.ToUnixTimeMilliseconds());
        // Only rows that name a kind (browse abandonment, win-back) hash it: every row written before the column existed
        // keeps the hash it was written with.
        if (row.Kind.Length > 0) input.Text("kind=").Part(row.Kind);
        return input.Bytes;
    }
}
