using System.Collections.Immutable;

namespace CartRecovery.Domain.Identity;

/// <summary>An anonymous id linked to a customer: its events go to the customer's key.</summary>
/// <param name="LastUsedAt">Event time of the link or of the latest event passed on; the alias lapses
/// <see cref="IdentityLinks.Retention"/> after it.</param>
public sealed record IdentityAlias(string CustomerId, string LinkEventId, DateTimeOffset LinkedAt, DateTimeOffset LastUsedAt);

/// <summary>
/// What one partition knows about identity (checkpointed with it): the anonymous ids of its shoppers that were
/// linked to a customer, and the hand-overs it has applied as the customer's partition (so a re-delivered
/// hand-over is applied once). Immutable; expiry is decided by event time, never by when it is pruned, so pruning
/// cannot change a decision.
/// </summary>
public sealed record IdentityLinks
{
    /// <summary>How long an alias and an applied hand-over are remembered after their last use. The storefront
    /// links again at the next login; a device silent for longer starts over as its own shopper.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(90);

    public static readonly IdentityLinks Empty = new();

    public ImmutableSortedDictionary<string, IdentityAlias> Aliases { get; set; } = ImmutableSortedDictionary.Create<string, IdentityAlias>(StringComparer.Ordinal);

    /// <summary>Hand-over event id → its event time.</summary>
    public ImmutableSortedDictionary<string, DateTimeOffset> Applied { get; set; } = ImmutableSortedDictionary.Create<string, DateTimeOffset>(StringComparer.Ordinal);

    /// <summary>The customer the id is linked to at <paramref name="at"/>, if any.</summary>
    public IdentityAlias? Resolve(string shopperId, DateTimeOffset at) =>
        Aliases.TryGetValue(shopperId, out var alias) && !Lapsed(alias.LastUsedAt, at) ? alias : null;

    public IdentityLinks Link(string anonymousId, IdentityAlias alias) => this with { Aliases = Aliases.SetItem(anonymousId, alias) };

    /// <summary>The alias was used for an event at <paramref name="at"/>: it lives on from there.</summary>
    public IdentityLinks Used(string anonymousId, DateTimeOffset at) =>
        Aliases.TryGetValue(anonymousId, out var alias) && at > alias.LastUsedAt ? Link(anonymousId, alias with { LastUsedAt = at }) : this;

    public bool WasApplied(string handOverId, DateTimeOffset at) => Applied.TryGetValue(handOverId, out var when) && !Lapsed(when, at);

    public IdentityLinks MarkApplied(string handOverId, DateTimeOffset at) => this with { Applied = Applied.SetItem(handOverId, at) };

    /// <summary>Forgets every link of <paramref name="shopperId"/>, as the anonymous id or as the customer (erasure).</summary>
    public IdentityLinks Forget(string shopperId) => this with
    {
        Aliases = Aliases.RemoveRange(Aliases.Where(a => a.Key == shopperId || a.Value.CustomerId == shopperId).Select(a => a.Key)),
    };

    /// <summary>Forgets what has lapsed by <paramref name="now"/> (memory only: lapsed entries already resolve to nothing).</summary>
    public IdentityLinks Prune(DateTimeOffset now) => this with
    {
        Aliases = Aliases.RemoveRange(Aliases.Where(a => Lapsed(a.Value.LastUsedAt, now)).Select(a => a.Key)),
        Applied = Applied.RemoveRange(Applied.Where(a => Lapsed(a.Value, now)).Select(a => a.Key)),
    };

    private static bool Lapsed(DateTimeOffset since, DateTimeOffset at) => at > since && at - since > Retention;
}
