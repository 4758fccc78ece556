using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using Xunit;

namespace CartRecovery.Domain.Tests.Compliance;

/// <summary>A batch's audit rows linked into their shoppers' chains at once (<see cref="AuditChain.LinkAll"/>).</summary>
public class AuditChainLinkAllTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly ComplianceKeys Keys = ComplianceKeys.Development;

    private static AuditRecord Row(string shopper, int i) => new()
    {
        AuditId = $"audit-{shopper}-{i}",
        ShopperId = shopper,
        SessionId = "s-1",
        Decision = AuditDecisions.Suppressed,
        Reason = "no_consent",
        Evidence = [$"evt-{shopper}-{i}"],
        PolicyVersion = "p1",
        EventTime = T0.AddMinutes(i),
    };

    // "b" already has a chain of two rows; "a" and "c" start theirs in this batch.
    private static readonly Dictionary<string, AuditChainHead> Heads = new()
    {
        ["b"] = AuditChain.HeadOf(LinkOneByOne([Row("b", -2), Row("b", -1)], null)[^1]),
    };

    private static readonly AuditRecord[] Batch = [Row("a", 0), Row("b", 1), Row("a", 2), Row("c", 3), Row("b", 4), Row("a", 5)];

    /// <summary>One shopper's rows linked one after the other, as a chain is defined.</summary>
    private static List<AuditRecord> LinkOneByOne(IEnumerable<AuditRecord> rows, AuditChainHead? head)
    {
        var linked = new List<AuditRecord>();
        foreach (var row in rows)
        {
            linked.Add(AuditChain.Link(head, row, Keys.Pseudonym(row.ShopperId), Keys));
            head = AuditChain.HeadOf(linked[^1]);
        }
        return linked;
    }

    private static AuditChainLinking LinkAll(IReadOnlyList<AuditRecord> rows, string? onlyShopper = null) =>
        AuditChain.LinkAll(rows, shopper => Heads.GetValueOrDefault(shopper), Keys, onlyShopper);

    [Fact]
    public void Rows_of_several_shoppers_linked_at_once_give_each_shopper_the_chain_of_linking_its_rows_one_by_one()
    {
        var linking = LinkAll(Batch);

        Assert.Equal(Batch.Select(r => r.AuditId), linking.Rows.Select(r => r.AuditId)); // order kept
        foreach (var shopper in new[] { "a", "b", "c" })
        {
            var expected = LinkOneByOne(Batch.Where(r => r.ShopperId == shopper), Heads.GetValueOrDefault(shopper));
            Assert.Equal(expected, linking.Rows.Where(r => r.ShopperId == shopper));
            Assert.Equal(AuditChain.HeadOf(expected[^1]), linking.Heads[shopper]);
        }
        Assert.Equal([3L, 4], linking.Rows.Where(r => r.ShopperId == "b").Select(r => r.ChainSeq)); // b's chain goes on
        Assert.True(AuditChainVerifier.Verify([.. linking.Rows.Where(r => r.ShopperId != "b")]).Intact);
    }

    [Fact]
    public void The_chains_depend_on_each_shoppers_order_of_rows_and_on_nothing_else()
    {
        var linking = LinkAll(Batch);
        Assert.Equal<AuditRecord>(linking.Rows, LinkAll(Batch).Rows); // the same rows again: the same chains

        // Other shoppers' rows interleaved differently (each shopper's own order kept): the same rows, the same heads.
        var regrouped = Batch.OrderBy(r => r.ShopperId, StringComparer.Ordinal).ToArray();
        var other = LinkAll(regrouped);
        Assert.Equal(linking.Rows.OrderBy(r => r.AuditId, StringComparer.Ordinal), other.Rows.OrderBy(r => r.AuditId, StringComparer.Ordinal));
        Assert.Equal(linking.Heads.OrderBy(h => h.Key), other.Heads.OrderBy(h => h.Key));

        // One shopper's own rows in another order: another chain (the order of a shopper's decisions is what it attests).
        AuditRecord[] swapped = [Batch[2], Batch[1], Batch[0], Batch[3], Batch[4], Batch[5]];
        Assert.NotEqual(linking.Heads["a"], LinkAll(swapped).Heads["a"]);
        Assert.Equal(linking.Heads["b"], LinkAll(swapped).Heads["b"]);
    }

    [Fact]
    public void Linking_one_shoppers_rows_first_then_the_rest_gives_the_chains_of_linking_all_at_once()
    {
        // As an erasure does: the erased shopper's rows are chained (and redacted) before the batch's others.
        var first = LinkAll(Batch, onlyShopper: "b");
        Assert.Equal(["b"], first.Heads.Keys);
        Assert.All(first.Rows.Where(r => r.ShopperId != "b"), r => Assert.Empty(r.ChainHash)); // others untouched
        Assert.Equal(Batch.Where(r => r.ShopperId != "b"), first.Rows.Where(r => r.ShopperId != "b"));

        var rest = LinkAll(first.Rows);
        Assert.DoesNotContain("b", rest.Heads.Keys); // rows already linked are not linked again
        Assert.Equal<AuditRecord>(LinkAll(Batch).Rows, rest.Rows);
    }

    [Fact]
    public void Each_shoppers_current_head_is_asked_once_and_a_row_named_by_its_pseudonym_keeps_it()
    {
        var asked = new List<string>();
        var pseudonym = Keys.Pseudonym("gone");
        // An erasure's row names the shopper by the pseudonym alone.
        AuditRecord[] rows = [.. Batch, Row(pseudonym, 6) with { ShopperPseudonym = pseudonym }];

        var linking = AuditChain.LinkAll(rows, shopper => { asked.Add(shopper); return Heads.GetValueOrDefault(shopper); }, Keys);
        Assert.Equal(["a", "b", "c", pseudonym], asked);
        Assert.Equal(pseudonym, linking.Rows[^1].ShopperPseudonym);
        Assert.Equal(AuditChain.Link(null, rows[^1], pseudonym, Keys), linking.Rows[^1]);
    }

    [Fact]
    public void No_unchained_rows_link_nothing()
    {
        var linked = LinkAll(Batch).Rows;
        var again = AuditChain.LinkAll(linked, shopper => throw new InvalidOperationException($"{shopper}'s head asked for"), Keys);
        Assert.Equal<AuditRecord>(linked, again.Rows);
        Assert.Empty(again.Heads);
        Assert.Empty(AuditChain.LinkAll([], _ => null, Keys).Rows);
    }
}
