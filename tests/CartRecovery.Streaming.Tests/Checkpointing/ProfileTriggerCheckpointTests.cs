using System.Collections.Immutable;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Profiles;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>Browse abandonment and win-back survive a restore: their deadlines are functions of the state alone, and the
/// state they read (the profile, the win-back decisions, the session's viewed categories and deferral) round-trips
/// through the checkpoint, so a new owner of the partition decides them at the same event time.</summary>
public sealed class ProfileTriggerCheckpointTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Their_state_round_trips_and_the_restored_state_has_the_same_deadlines()
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault() with
        {
            BrowseAbandonment = BrowseAbandonmentPolicy.Off with { Enabled = true },
            WinBack = WinBackPolicy.Off with { Enabled = true },
        });
        var profile = ShopperProfile.Start(T0.AddDays(-40))
            .Interest("lamps", "lamp-1", ShopperProfile.CartPoints, T0.AddDays(-30))
            .Ordered(T0.AddDays(-30), 40m, ["lamp-1"])
            .Ordered(T0.AddDays(-20), 60m, []) with { TimeZone = "Europe/Berlin", LastCartAt = T0.AddDays(-20) };
        var shopper = ShopperState.New("cust-1") with
        {
            Profile = profile,
            WinBack = new WinBackState(T0.AddDays(-120), T0.AddDays(-100), T0.AddDays(-99)),
        };
        var session = new SessionState
        {
            ShopperId = "cust-1", SessionId = "s-1", OriginChannel = "web", Currency = "EUR", TimeZone = "UTC", StartedAt = T0, LastActivityAt = T0.AddMinutes(3),
            ViewedCategories = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [new KeyValuePair<string, int>("lamps", 3), new("shoes", 1)]),
            BrowseDeferredUntil = T0.AddHours(9),
        };
        var checkpoint = new PartitionCheckpoint
        {
            Partition = 0, NextOffsets = new() { ["cart-events"] = 7 }, Watermark = Watermark.Start, Shoppers = [shopper], Sessions = [session],
        };

        var restored = PartitionCheckpoint.FromBytes(checkpoint.ToBytes());
        var restoredShopper = restored.Shoppers.Single();
        var restoredSession = restored.Sessions.Single();

        Assert.Equal(shopper.WinBack, restoredShopper.WinBack);
        Assert.Equal((profile.TimeZone, profile.LastCartAt, profile.LastOrderAt, profile.OrderCount),
            (restoredShopper.Profile!.TimeZone, restoredShopper.Profile.LastCartAt, restoredShopper.Profile.LastOrderAt, restoredShopper.Profile.OrderCount));
        Assert.Equal(session.ViewedCategories, restoredSession.ViewedCategories);
        Assert.Equal(session.BrowseDeferredUntil, restoredSession.BrowseDeferredUntil);
        Assert.NotNull(engine.ShopperDeadline(shopper));
        Assert.Equal(engine.ShopperDeadline(shopper), engine.ShopperDeadline(restoredShopper));
        Assert.Equal(engine.Deadlines(session).ToArray(), engine.Deadlines(restoredSession).ToArray());
        Assert.Contains(engine.Deadlines(restoredSession), d => d.Kind == DeadlineKind.BrowseAbandonment && d.At == T0.AddHours(9));
        Assert.Equal(checkpoint.ToBytes(), (checkpoint with { Shoppers = [restoredShopper], Sessions = [restoredSession] }).ToBytes());
    }

    [Fact]
    public void A_pending_survey_invitation_round_trips_and_keeps_its_deadline()
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault() with { SurveyInvitation = SurveyInvitationPolicy.Off with { Enabled = true } });
        var shopper = ShopperState.New("cust-1") with
        {
            PendingSurveys =
            [
                new PendingSurvey("s-1", T0, 1, T0.AddMinutes(30), T0.AddHours(25), "ab-1", "default", "control", "Europe/Berlin", false, 49.9m, "EUR"),
                new PendingSurvey("s-2", T0.AddDays(1), 2, T0.AddDays(1), T0.AddDays(2), "ab-2", "high_value", "control", "UTC", true, 300m, "EUR",
                    DeferredUntil: T0.AddDays(3)),
            ],
        };
        var checkpoint = new PartitionCheckpoint
        {
            Partition = 0, NextOffsets = new() { ["cart-events"] = 7 }, Watermark = Watermark.Start, Shoppers = [shopper], Sessions = [],
        };

        var restored = PartitionCheckpoint.FromBytes(checkpoint.ToBytes()).Shoppers.Single();

        Assert.Equal(shopper.PendingSurveys, restored.PendingSurveys);
        Assert.Equal(new Deadline(T0.AddHours(49), DeadlineKind.SurveyInvitation), engine.ShopperDeadline(restored));
    }
}
