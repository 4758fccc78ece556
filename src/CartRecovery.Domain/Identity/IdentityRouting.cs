using System.Text.Json;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Identity;

/// <summary>What a partition does with an identity command or an event of a linked id (<see cref="IdentityRouting.Route"/>).
/// <see cref="Links"/> is the partition's identity after it: the caller keeps it once it has carried the route out.</summary>
public abstract record IdentityRoute(IdentityLinks Links)
{
    /// <summary>Send <paramref name="Onward"/> to the input topic under its shopper's key: a link published under the
    /// customer's key to the anonymous id (whose partition holds the state), or an event or hand-over of a linked id to
    /// its customer. Its id is deterministic, so a replay passes on the same record.</summary>
    public sealed record PassOn(ShopperEvent Onward, IdentityLinks Links) : IdentityRoute(Links);

    /// <summary>Only audited, nothing moves: a link already known or to another customer (the links say where the id's
    /// later events go), a hand-over applied before or unreadable, or a record passed on too often (a link cycle).</summary>
    public sealed record Audited(AuditRecord Audit, IdentityLinks Links) : IdentityRoute(Links);

    /// <summary>The anonymous id's first link: everything the partition holds for <c>Link.AnonymousId</c> (its policy
    /// state and sessions) goes to the customer (<see cref="IdentityMerger.HandOverFor"/>), and the id is linked.</summary>
    public sealed record FirstLink(IdentityLinked Link, IdentityLinks Links) : IdentityRoute(Links);

    /// <summary>The customer's partition adopts <paramref name="State"/> once (<see cref="IdentityMerger.Adopt"/>);
    /// <paramref name="Late"/>: the partition had settled past the link time when it arrived.</summary>
    public sealed record Adopt(IdentityMerged Record, HandOver State, bool Late, IdentityLinks Links) : IdentityRoute(Links);
}

/// <summary>
/// Where a partition's identity commands and the events of linked ids go (docs/events.md, "Identity"): pure, from the
/// partition's <see cref="IdentityLinks"/> and the command alone, so a replay routes every record the same way. The
/// caller carries the route out (sends, moves the session states) and keeps <see cref="IdentityRoute.Links"/>.
/// </summary>
/// <param name="readHandOver">Reads a hand-over's state; null when it cannot be read (it came from the input topic).</param>
public sealed class IdentityRouting(IdentityMerger merger, Func<JsonElement, HandOver?> readHandOver)
{
    /// <summary>A record as it arrives: an event forwarded from a linked id is the customer's from here on, and counts
    /// the hop it took; a hand-over carries its own count (raised when it is passed on).</summary>
    public static (ShopperEvent Event, int Hops) Arrived(ShopperEvent evt) => evt switch
    {
        IdentityForwarded forwarded => (forwarded.AsCustomers(), forwarded.Hops + 1),
        IdentityMerged merged => (merged, merged.Hops),
        _ => (evt, 0),
    };

    /// <summary>The partition routes the command itself (<see cref="Route"/>): a link, a hand-over, or any event of an id
    /// linked to a customer at the event's time.</summary>
    public static bool Routes(IdentityLinks links, string shopperId, ShopperEvent evt) =>
        evt is IdentityLinked or IdentityMerged || links.Resolve(shopperId, evt.EventTime) is not null;

    /// <summary>The route of <paramref name="shopperId"/>'s command (<paramref name="hops"/>: how often it was passed on,
    /// <see cref="Arrived"/>; <paramref name="stamp"/>: the watermark it was stamped with); null when the event is the
    /// shopper's own to decide (<see cref="Routes"/> is false).</summary>
    public IdentityRoute? Route(IdentityLinks links, string shopperId, ShopperEvent evt, int hops, Watermark stamp)
    {
        if (evt is IdentityLinked link) return Link(links, link);
        if (links.Resolve(shopperId, evt.EventTime) is { } alias) return PassOn(links, shopperId, evt, hops, alias);
        return evt is IdentityMerged record ? Adopt(links, record, stamp) : null;
    }

    /// <summary>Anonymous side: hand the id's state over to the customer's key and remember the alias.</summary>
    private IdentityRoute Link(IdentityLinks links, IdentityLinked link)
    {
        var anonymousId = link.AnonymousId;
        // Published under the customer's key: the anonymous id's partition holds the state, so the link goes there
        // (same event id, so the hand-over's id is the same whichever key the storefront used).
        if (link.ShopperId != anonymousId) return new IdentityRoute.PassOn(link with { ShopperId = anonymousId }, links);
        var alias = new IdentityAlias(link.CustomerId, link.EventId, link.EventTime, link.EventTime);
        if (links.Resolve(anonymousId, link.EventTime) is not { } previous) return new IdentityRoute.FirstLink(link, links.Link(anonymousId, alias));
        // Everything the id had went to the customer at its first link; a repeated link moves nothing, and a link to
        // another customer sends the id's later events there.
        var same = previous.CustomerId == link.CustomerId;
        return new IdentityRoute.Audited(merger.LinkAudit(link, same ? IdentityMerger.Reasons.AlreadyLinked : IdentityMerger.Reasons.Relinked, previous),
            same ? links.Used(anonymousId, link.EventTime) : links.Link(anonymousId, alias));
    }

    /// <summary>An event of a linked id (or a hand-over for a customer id that is itself linked on): to the customer's
    /// key, unless it has been passed on <see cref="IdentityRules.MaxHops"/> times already (the links form a cycle).</summary>
    private IdentityRoute PassOn(IdentityLinks links, string shopperId, ShopperEvent evt, int hops, IdentityAlias alias)
    {
        ShopperEvent onward = evt is IdentityMerged merged
            ? merged with
            {
                EventId = RecoveryIds.IdentityMergedPassedOn(merged.EventId, alias.CustomerId),
                ShopperId = alias.CustomerId, CustomerId = alias.CustomerId, Hops = merged.Hops + 1,
            }
            : new IdentityForwarded
            {
                EventId = RecoveryIds.IdentityForwarded(evt.EventId, alias.CustomerId),
                ShopperId = alias.CustomerId, EventTime = evt.EventTime, AnonymousId = shopperId, Hops = hops, Event = evt,
            };
        if (onward is IdentityMerged { Hops: > IdentityRules.MaxHops } or IdentityForwarded { Hops: > IdentityRules.MaxHops })
            return new IdentityRoute.Audited(merger.MergeAudit(shopperId, IdentityMerger.Reasons.LinkCycle, evt.EventTime, [evt.EventId, alias.LinkEventId],
                $"not passed on to customer={merger.Pseudonym(alias.CustomerId)} after {IdentityRules.MaxHops} hops"), links);
        return new IdentityRoute.PassOn(onward, links.Used(shopperId, evt.EventTime));
    }

    /// <summary>Customer side: adopt a hand-over once.</summary>
    private IdentityRoute Adopt(IdentityLinks links, IdentityMerged record, Watermark stamp)
    {
        if (links.WasApplied(record.EventId, record.EventTime))
            return new IdentityRoute.Audited(merger.MergeAudit(record.CustomerId, IdentityMerger.Reasons.DuplicateHandOver, record.EventTime,
                [record.LinkEventId, record.EventId]), links);
        if (readHandOver(record.State) is not { } handOver)
            return new IdentityRoute.Audited(merger.MergeAudit(record.CustomerId, IdentityMerger.Reasons.InvalidState, record.EventTime,
                [record.LinkEventId, record.EventId], "state is not a hand-over: nothing adopted"), links);
        return new IdentityRoute.Adopt(record, handOver, stamp.IsLate(record.EventTime), links.MarkApplied(record.EventId, record.EventTime));
    }
}
