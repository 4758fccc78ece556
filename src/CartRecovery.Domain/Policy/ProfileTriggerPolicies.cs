namespace CartRecovery.Domain.Policy;

/// <summary>
/// Browse abandonment (policy key <c>browse_abandonment</c>, off by default): a session in which the shopper viewed at
/// least <see cref="MinViews"/> items of one category and put nothing in a cart gets one message naming that category
/// once <see cref="Delay"/> of event time has passed since its last activity. Channels, caps and quiet hours are the
/// session's policy segment's; the message relies on consent for <see cref="Purpose"/> (a grant must name it; an opt-out
/// from it, from marketing or from everything stops it).
/// </summary>
public sealed record BrowseAbandonmentPolicy(bool Enabled, TimeSpan Delay, int MinViews, string Purpose)
{
    public static readonly BrowseAbandonmentPolicy Off = new(false, TimeSpan.FromHours(2), 2, Decisions.RecoveryEngine.MarketingPurpose);
}

/// <summary>
/// Win-back (policy key <c>win_back</c>, off by default): when a customer's profile turns at risk in event time (the
/// time since their last order passes their own typical interval × <see cref="Profiles.ShopperProfile.AtRiskFactor"/>),
/// one message, and at most one per <see cref="Period"/>. Channels, caps and quiet hours are those of the policy segment
/// the shopper's profile segment matches; consent as for <see cref="BrowseAbandonmentPolicy"/>.
/// </summary>
public sealed record WinBackPolicy(bool Enabled, TimeSpan Period, string Purpose)
{
    public static readonly WinBackPolicy Off = new(false, TimeSpan.FromDays(90), Decisions.RecoveryEngine.MarketingPurpose);
}

/// <summary>
/// Survey invitations (policy key <c>survey_invitation</c>): when a recovery case ends without an order (its last step
/// was decided and no code it issued is still valid), one message <see cref="Delay"/> later asking the shopper why they
/// left. Consent of its own <see cref="Purpose"/> (a cart-recovery grant is not consent to a survey); channels
/// <see cref="Channels"/> in order (default: the case's segment's), caps and quiet hours of the case's segment; a template
/// per channel (<see cref="Templates"/>, Liquid as the reminders' plus <c>trigger_id</c>, which the survey's answer
/// (<c>survey_answered.trigger_id</c>) sends back to link it to the case).
/// </summary>
public sealed record SurveyInvitationPolicy(bool Enabled, TimeSpan Delay, System.Collections.Immutable.ImmutableArray<string> Channels, string Purpose)
{
    public const string FeedbackPurpose = "feedback";

    public static readonly SurveyInvitationPolicy Off = new(false, TimeSpan.FromHours(24), [], FeedbackPurpose);

    /// <summary>The message per channel; a channel without one sends an empty body (check-policy warns).</summary>
    public System.Collections.Immutable.ImmutableDictionary<string, MessageTemplate> Templates { get; init; } =
        System.Collections.Immutable.ImmutableDictionary<string, MessageTemplate>.Empty;

    /// <summary>Where the section is in the policy file, for check-policy's findings.</summary>
    public const string Path = "survey_invitation";

    public SegmentPolicy In(SegmentPolicy segment) => Channels.IsDefaultOrEmpty ? segment : segment with { ChannelPreference = Channels };
}
