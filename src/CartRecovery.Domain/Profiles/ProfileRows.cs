using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Profiles;

/// <summary>Keeps a shopper's profile up to date from their events, and turns it into its <c>shopper_profiles</c> row.</summary>
public static class ProfileRows
{
    /// <summary>The shopper's state with the event taken into the profile: every event is activity; views and cart adds
    /// with a category are interest; an order (not its payment authorization: one purchase) is frequency, recency and
    /// money. <paramref name="sessionCurrency"/> is the currency of an order that names none.</summary>
    public static ShopperState Observe(ShopperState shopper, ShopperEvent evt, RecoveryPolicy policy, string? sessionCurrency = null)
    {
        var profile = Observed(shopper.Profile, evt, policy, sessionCurrency);
        return ReferenceEquals(profile, shopper.Profile) ? shopper : shopper with { Profile = profile };
    }

    /// <summary>The profile with the event taken in (<see cref="Observe"/>); the same instance when nothing changed.</summary>
    public static ShopperProfile Observed(ShopperProfile? current, ShopperEvent evt, RecoveryPolicy policy, string? sessionCurrency = null)
    {
        var profile = current ?? ShopperProfile.Start(evt.EventTime);
        profile = evt switch
        {
            ProductViewed viewed => profile.Interest(viewed.Category, viewed.Sku, ShopperProfile.ViewPoints, evt.EventTime),
            CartLineAdded added => profile.Interest(added.Category, added.Line.Sku, ShopperProfile.CartPoints, evt.EventTime) with
            {
                LastCartAt = profile.LastCartAt is { } carted && carted > evt.EventTime ? carted : evt.EventTime,
            },
            SessionStarted { TimeZone: { Length: > 0 } zone } when evt.EventTime >= profile.LastSeen =>
                profile.Seen(evt.EventTime) with { TimeZone = State.SharedStrings.Of(zone) },
            OrderPlaced order => profile.Ordered(evt.EventTime,
                policy.InPolicyCurrency(order.Total, order.Currency ?? sessionCurrency ?? policy.DefaultCurrency), order.Lines.Select(l => l.Sku)),
            _ => profile.Seen(evt.EventTime),
        };
        return profile;
    }

    /// <summary>The shopper's profile segment at <paramref name="at"/> ("" without a profile).</summary>
    public static string SegmentOf(ShopperState shopper, RecoveryPolicy policy, DateTimeOffset at) =>
        shopper.Profile?.Segment(at, policy.Profiles.TypicalInterval) ?? "";

    public static ShopperProfileRow? Row(ShopperState shopper, RecoveryPolicy policy, DateTimeOffset at)
    {
        if (shopper.Profile is not { } profile) return null;
        var fallback = policy.Profiles.TypicalInterval;
        return new ShopperProfileRow
        {
            ShopperId = shopper.ShopperId,
            Segment = profile.Segment(at, fallback),
            ChurnRisk = profile.ChurnRisk(at, fallback),
            OrderCount = profile.OrderCount,
            RecencyDays = profile.LastOrderAt is { } last ? Math.Round((at - last).TotalDays, 2) : null,
            Monetary = profile.Monetary,
            MonetaryCurrency = policy.DefaultCurrency,
            LifetimeValue = profile.LifetimeValue(at, fallback, policy.Profiles.LifetimeHorizon),
            TypicalIntervalDays = Math.Round(profile.TypicalInterval(fallback).TotalDays, 2),
            TopCategories = [.. profile.TopCategories.Take(3)],
            CategoryInterest = profile.CategoryInterest,
            FirstSeen = profile.FirstSeen,
            LastOrderAt = profile.LastOrderAt,
            UpdatedAt = at,
        };
    }
}
