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
            var linked = AuditChain.Link(head, Row(i, shopper), Keys.Pseudonym(shopper), Keys);
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
        // With the keys and the anchors as the writer left them, too.
        var report = AuditChainVerifier.Verify(stored, AuditChainAnchors.HeadsOf(rows, Keys), Keys);
        Assert.True(report.Intact, string.Join("\n", report.Problems));
    }

    [Fact]
    public void A_row_moved_to_another_shopper_or_session_is_reported_moved()
    {
        var rows = Chain(4);
        var anchors = AuditChainAnchors.HeadsOf(rows, Keys);
        Assert.True(AuditChainVerifier.Verify(rows, anchors, Keys).Intact);
        // The tester's case: two consent rows' shopper_id moved to an invented shopper (hashes untouched: they verify).
        rows[0] = rows[0] with { ShopperId = "invented-shopper" };
        rows[1] = rows[1] with { ShopperId = "invented-shopper" };
        rows[2] = rows[2] with { SessionId = "s-other" };
        var problems = AuditChainVerifier.Verify(rows, anchors, Keys).Problems;
        Assert.Equal([(ChainProblem.Moved, "audit-cust-1-0"), (ChainProblem.Moved, "audit-cust-1-1"), (ChainProblem.Moved, "audit-cust-1-2")],
            problems.Select(p => (p.Kind, p.AuditId)));
        Assert.Contains("session_id", problems[2].Detail);
    }

    [Fact]
    public void A_changed_session_evidence_or_factor_breaks_the_hash()
    {
        var rows = Chain(4).Select(r => r with { TopFactors = ["cart_value", "checkout_step"] }).ToList();
        // Relink with factors (they are part of the content).
        AuditChainHead? head = null;
        for (var i = 0; i < rows.Count; i++)
        {
            rows[i] = AuditChain.Link(head, rows[i] with { ChainHash = "", ChainPrev = "" }, rows[i].ShopperPseudonym, Keys);
            head = AuditChain.HeadOf(rows[i]);
        }
        Assert.True(AuditChainVerifier.Verify(rows).Intact);
        rows[0] = rows[0] with { SessionPseudonym = Keys.SessionPseudonym(rows[0].ShopperId, "s-other") };
        rows[1] = rows[1] with { Evidence = ["evt-forged"] };
        rows[2] = rows[2] with { TopFactors = ["cart_value"] };
        rows[3] = rows[3] with { Evidence = ["evt-3", ""] };
        Assert.Equal(["audit-cust-1-0", "audit-cust-1-1", "audit-cust-1-2", "audit-cust-1-3"],
            AuditChainVerifier.Verify(rows).Problems.Where(p => p.Kind == ChainProblem.Altered).Select(p => p.AuditId));
    }

    [Fact]
    public void A_deleted_chain_and_a_chain_cut_short_are_reported_against_their_anchored_heads()
    {
        var kept = Chain(3, "cust-1");
        var deleted = Chain(3, "cust-2");
        var cut = Chain(4, "cust-3");
        var anchors = AuditChainAnchors.HeadsOf([.. kept, .. deleted, .. cut], Keys);
        var report = AuditChainVerifier.Verify([.. kept, .. cut.Take(2)], anchors, Keys);
        // The cut chain: its anchored head is gone and its newest row is not the anchored one; the deleted one: its head.
        Assert.Equal([(ChainProblem.HeadMissing, Keys.Pseudonym("cust-3"), 4L), (ChainProblem.Unanchored, Keys.Pseudonym("cust-3"), 2L),
                (ChainProblem.HeadMissing, Keys.Pseudonym("cust-2"), 3L)],
            report.Problems.Select(p => (p.Kind, p.Pseudonym, p.Seq)));
        Assert.Contains("deleted", report.Problems[2].Detail);
    }

    [Fact]
    public void Rows_rebuilt_into_a_new_chain_without_the_key_are_unanchored()
    {
        var rows = Chain(4);
        var anchors = AuditChainAnchors.HeadsOf(rows, Keys);
        // An editor with write access but no key moves the two first rows to an invented shopper and recomputes both chains.
        var moved = new List<AuditRecord>();
        AuditChainHead? head = null;
        foreach (var row in rows.Take(2))
        {
            // Shopper and session ids set to what an erased row holds, so no "moved" gives it away.
            var relinked = AuditChain.Link(head, row with { ShopperId = "ps_invented", ChainHash = "", ChainPrev = "" }, "ps_invented", Keys) with { SessionId = row.SessionPseudonym };
            moved.Add(relinked);
            head = AuditChain.HeadOf(relinked);
        }
        var left = new List<AuditRecord>();
        head = null;
        foreach (var row in rows.Skip(2))
        {
            var relinked = AuditChain.Link(head, row with { ChainHash = "", ChainPrev = "" }, row.ShopperPseudonym, Keys);
            left.Add(relinked);
            head = AuditChain.HeadOf(relinked);
        }
        // Forged anchors (no key) do not help.
        var forged = AuditChainAnchors.HeadsOf([.. moved, .. left], Keys).Select(h => h with { HeadMac = new string('0', 64) });
        var kinds = AuditChainVerifier.Verify([.. moved, .. left], [.. anchors, .. forged], Keys).Problems.Select(p => p.Kind).ToHashSet();
        Assert.Contains(ChainProblem.Unanchored, kinds);
        Assert.Contains(ChainProblem.HeadMissing, kinds);
        Assert.Contains(ChainProblem.HeadForged, kinds);
    }

    [Fact]
    public void Rows_of_version_1_keep_verifying_and_cannot_follow_version_2()
    {
        var rows = Chain(3).Select(r => r with { ChainVersion = 1, SessionPseudonym = "" }).ToList();
        for (var i = 0; i < rows.Count; i++)
        {
            var prev = i == 0 ? "" : rows[i - 1].ChainHash;
            var row = rows[i] with { ChainPrev = prev };
            rows[i] = row with { ChainHash = AuditChain.HashOf(row) };
        }
        Assert.True(AuditChainVerifier.Verify(rows, null, Keys).Intact);
        // A version-2 row extends a version-1 chain; the reverse is a downgrade.
        var next = AuditChain.Link(new AuditChainHead(3, rows[2].ChainHash), Row(3), rows[2].ShopperPseudonym, Keys);
        Assert.True(AuditChainVerifier.Verify([.. rows, next], AuditChainAnchors.HeadsOf([next], Keys), Keys).Intact);
        var downgraded = Row(4) with { ShopperPseudonym = next.ShopperPseudonym, ChainVersion = 1, ChainSeq = 5, ChainPrev = next.ChainHash };
        downgraded = downgraded with { ChainHash = AuditChain.HashOf(downgraded) };
        Assert.Contains(AuditChainVerifier.Verify([.. rows, next, downgraded]).Problems, p => p.Kind == ChainProblem.Downgraded);
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
