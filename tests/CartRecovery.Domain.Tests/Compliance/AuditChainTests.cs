using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using Xunit;

namespace CartRecovery.Domain.Tests.Compliance;

/// <summary>The audit chain: deterministic links, and every kind of tampering reported where it happens.</summary>
public class AuditChainTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly ComplianceKeys Keys = ComplianceKeys.Development;

    private static AuditRecord Row(int i, string shopper = "cust-1") => new()
    {
        AuditId = $"audit-{shopper}-{i}",
        ShopperId = shopper,
        SessionId = "s-1",
        Decision = i == 0 ? AuditDecisions.Abandoned : AuditDecisions.Suppressed,
        Reason = i == 0 ? "inactivity_timeout" : "no_consent",
        Step = i,
        Evidence = [$"evt-{i}"],
        Score = 0.1 * i + 0.0123456789,
        PolicyVersion = "p1",
        Detail = $"row {i}",
        EventTime = T0.AddMinutes(i).AddTicks(1234), // sub-millisecond part: stored as milliseconds
    };

    private static List<AuditRecord> Chain(int length, string shopper = "cust-1")
    {
        var rows = new List<AuditRecord>();
        AuditChainHead? head = null;
        for (var i = 0; i < length; i++)
        {
            var linked = AuditChain.Link(head, Row(i, shopper), Keys.Pseudonym(shopper));
            rows.Add(linked);
            head = AuditChain.HeadOf(linked);
        }
        return rows;
    }

    [Fact]
    public void Linking_the_same_rows_again_gives_the_same_chain()
    {
        var first = Chain(5);
        var second = Chain(5);
        Assert.Equal(first.Select(r => r.ChainHash), second.Select(r => r.ChainHash));
        Assert.Equal([1L, 2, 3, 4, 5], first.Select(r => r.ChainSeq));
        Assert.Equal("", first[0].ChainPrev);
        Assert.All(first.Skip(1).Zip(first), pair => Assert.Equal(pair.Second.ChainHash, pair.First.ChainPrev));
        Assert.True(AuditChainVerifier.Verify([.. first, .. Chain(3, "cust-2")]).Intact);
    }

    [Fact]
    public void The_chain_survives_erasure_and_millisecond_storage()
    {
        var rows = Chain(4);
        // Erasure pseudonymises the shopper and the session id; the store keeps times to the millisecond.
        var stored = rows.Select(r => Erasure.Redact(r, new ErasurePseudonyms(ComplianceKeys.Development, "cust-1")) with
        {
            EventTime = DateTimeOffset.FromUnixTimeMilliseconds(r.EventTime.ToUnixTimeMilliseconds()),
        }).ToList();
        Assert.DoesNotContain(stored, r => r.ShopperId == "cust-1");
        Assert.All(stored.Zip(rows), pair => Assert.NotEqual(pair.Second.SessionId, pair.First.SessionId));
        Assert.True(AuditChainVerifier.Verify(stored).Intact);
    }

    [Fact]
    public void A_deleted_row_is_reported_missing_at_its_successor()
    {
        var rows = Chain(5);
        rows.RemoveAt(2);
        var problem = Assert.Single(AuditChainVerifier.Verify(rows).Problems);
        Assert.Equal((ChainProblem.Missing, 4L, "audit-cust-1-3"), (problem.Kind, problem.Seq, problem.AuditId));
    }

    [Fact]
    public void A_deleted_first_row_is_reported_too()
    {
        var rows = Chain(3);
        rows.RemoveAt(0);
        Assert.Equal([(ChainProblem.Missing, "audit-cust-1-1")], AuditChainVerifier.Verify(rows).Problems.Select(p => (p.Kind, p.AuditId)));
    }

    [Fact]
    public void An_altered_row_is_reported_altered()
    {
        var rows = Chain(5);
        rows[1] = rows[1] with { Reason = "holdout" };
        rows[3] = rows[3] with { EventTime = rows[3].EventTime.AddHours(-1) };
        Assert.Equal([(ChainProblem.Altered, "audit-cust-1-1"), (ChainProblem.Altered, "audit-cust-1-3")],
            AuditChainVerifier.Verify(rows).Problems.Select(p => (p.Kind, p.AuditId)));
    }

    [Fact]
    public void Two_rows_swapped_in_sequence_are_reported()
    {
        var rows = Chain(5);
        (rows[1], rows[2]) = (rows[1] with { ChainSeq = 3 }, rows[2] with { ChainSeq = 2 });
        var problems = AuditChainVerifier.Verify(rows).Problems;
        Assert.Contains(problems, p => p.Kind == ChainProblem.Reordered && p.AuditId == "audit-cust-1-1");
        Assert.Contains(problems, p => p.Kind == ChainProblem.Altered && p.AuditId == "audit-cust-1-2");
    }

    [Fact]
    public void A_rewritten_link_with_a_recomputed_hash_is_still_reported_as_reordered_or_forked()
    {
        var rows = Chain(5);
        // The editor moves row 4 to follow row 1 and recomputes its hash: its chain_seq no longer follows its predecessor,
        // and row 2 and row 4 now claim the same predecessor.
        var moved = rows[4] with { ChainPrev = rows[1].ChainHash };
        rows[4] = moved with { ChainHash = AuditChain.HashOf(moved) };
        var kinds = AuditChainVerifier.Verify(rows).Problems.Select(p => p.Kind).ToList();
        Assert.Contains(ChainProblem.Reordered, kinds);
        Assert.Contains(ChainProblem.Forked, kinds);
    }

    [Fact]
    public void Rows_without_chain_fields_are_reported_unchained()
    {
        var problem = Assert.Single(AuditChainVerifier.Verify([Row(1)]).Problems);
        Assert.Equal(ChainProblem.Unchained, problem.Kind);
    }
}
