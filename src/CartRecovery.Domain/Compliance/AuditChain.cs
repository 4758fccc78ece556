using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Domain.Compliance;

/// <summary>The newest row of a shopper's audit chain: the next row links to it.</summary>
public sealed record AuditChainHead(long Seq, string Hash);

/// <summary>
/// The tamper-evident audit log: every audit row carries <c>chain_hash</c> = SHA-256 over the previous row's hash, its
/// position and its content, so a deleted, altered or reordered row breaks the chain at that point
/// (<c>./run.sh audit verify</c>). Chains are per shopper, in the order the shopper's decisions are taken, which is a
/// function of the input alone (a shopper's commands run one at a time), so a replay rebuilds the same chain and a
/// row written twice after a crash carries the same hash (ReplacingMergeTree keeps one copy of identical rows).
///
/// What the hash covers: the chain key (the keyed pseudonym of the shopper, not the id) and the fields erasure keeps:
/// audit id, session id is left out (erasure may clear it), decision, reason, step, channel, evidence, score, policy
/// version, detail, event time, and the kind when the row has one. So erasing a shopper (shopper_id replaced by the pseudonym) leaves every chain
/// verifiable, and the verifier needs no key.
/// </summary>
public static class AuditChain
{
    /// <summary>Links <paramref name="row"/> after <paramref name="head"/> (null: it starts a chain).</summary>
    public static AuditRecord Link(AuditChainHead? head, AuditRecord row, string pseudonym)
    {
        var linked = row with
        {
            ShopperPseudonym = pseudonym,
            ChainSeq = (head?.Seq ?? 0) + 1,
            ChainPrev = head?.Hash ?? "",
        };
        return linked with { ChainHash = HashOf(linked) };
    }

    public static AuditChainHead HeadOf(AuditRecord linked) => new(linked.ChainSeq, linked.ChainHash);

    /// <summary>The hash a row must carry, from its own fields (<see cref="AuditRecord.ChainHash"/> itself excluded).</summary>
    public static string HashOf(AuditRecord row)
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
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input.Bytes, hash);
        return Convert.ToHexStringLower(hash);
    }
}
