namespace CartRecovery.Contracts.Events;

/// <summary>
/// What happened to a trigger after the worker emitted it, reported back on the <c>outcome-events</c> topic (keyed by
/// shopper, co-partitioned with the other inputs, so the shopper's state sees it in event-time order): message
/// delivery and engagement from dispatchers, chat outcomes from the support tool, and the post-abandonment survey.
/// An outcome names the trigger it is about; one whose trigger the worker does not know (emitted before a restore
/// from an older checkpoint, or by an older version) is kept and counted as unmatched, never dead-lettered.
/// </summary>
public abstract record OutcomeEvent : ShopperEvent
{
    /// <summary>The session the trigger was about, when the reporting system knows it (optional).</summary>
    public string? SessionId { get; init; }

    /// <summary>The trigger this outcome is about (empty for a survey linked by session only).</summary>
    public abstract string TriggerRef { get; }
}

/// <summary>A dispatcher's report about one message (email, SMS, push) of a recovery trigger.</summary>
public abstract record MessageOutcome : OutcomeEvent
{
    public required string TriggerId { get; init; }
    /// <summary>The message channel: email, sms or push (the trigger's channel).</summary>
    public required string Channel { get; init; }
    public override string TriggerRef => TriggerId;
}

public sealed record MessageDelivered : MessageOutcome;
public sealed record MessageOpened : MessageOutcome;
public sealed record MessageClicked : MessageOutcome;

/// <summary>The message could not be delivered. A hard bounce (or one of unknown type) retires the channel for the
/// shopper; a soft bounce (mailbox full, device offline) is only recorded.</summary>
public sealed record MessageBounced : MessageOutcome
{
    /// <summary><c>hard</c> or <c>soft</c>; absent when the dispatcher cannot tell (treated as hard: the safe side).</summary>
    public string? BounceType { get; init; }
}

/// <summary>The recipient marked the message as spam or complained: the channel is not used again for the shopper.</summary>
public sealed record MessageComplained : MessageOutcome;

/// <summary>The shopper accepted a proactive chat offer.</summary>
public sealed record ChatAccepted : OutcomeEvent
{
    public required string TriggerId { get; init; }
    public override string TriggerRef => TriggerId;
}

/// <summary>A proactive chat was closed by the agent.</summary>
public sealed record ChatResolved : OutcomeEvent
{
    public required string TriggerId { get; init; }
    /// <summary>True when the shopper's question was settled in this first contact (no follow-up, no hand-off).</summary>
    public required bool ResolvedFirstContact { get; init; }
    /// <summary>Satisfaction score 1..5 given by the shopper, if asked.</summary>
    public int? Satisfaction { get; init; }
    public override string TriggerRef => TriggerId;
}

/// <summary>
/// The post-abandonment survey: why the shopper left. Linked to the abandonment case through <see cref="TriggerId"/>
/// (the reminder that carried the survey link) or <see cref="OutcomeEvent.SessionId"/>; at least one is required.
/// <see cref="FreeText"/> is personal data: kept only in the erasable <c>outcome_events</c> table, never in audit rows,
/// dead letters or logs.
/// </summary>
public sealed record SurveyAnswered : OutcomeEvent
{
    public string? TriggerId { get; init; }
    /// <summary>One of <see cref="SurveyReasons.All"/>.</summary>
    public required string Reason { get; init; }
    public string? FreeText { get; init; }
    public override string TriggerRef => TriggerId ?? "";
}

/// <summary>The closed list of abandonment reasons a survey answer may give.</summary>
public static class SurveyReasons
{
    public const string ShippingCost = "shipping_cost";
    public const string PaymentTrouble = "payment_trouble";
    public const string Price = "price";
    public const string Comparison = "comparison";
    public const string JustBrowsing = "just_browsing";
    public const string Other = "other";

    public static readonly IReadOnlyList<string> All = [ShippingCost, PaymentTrouble, Price, Comparison, JustBrowsing, Other];
}

/// <summary>The outcome types, as the contract names them (the <c>type</c> of each outcome event).</summary>
public static class OutcomeTypes
{
    public const string MessageDelivered = "message_delivered";
    public const string MessageOpened = "message_opened";
    public const string MessageClicked = "message_clicked";
    public const string MessageBounced = "message_bounced";
    public const string MessageComplained = "message_complained";
    public const string ChatAccepted = "chat_accepted";
    public const string ChatResolved = "chat_resolved";
    public const string SurveyAnswered = "survey_answered";

    public static string Of(OutcomeEvent evt) => evt switch
    {
        Events.MessageDelivered => MessageDelivered,
        Events.MessageOpened => MessageOpened,
        Events.MessageClicked => MessageClicked,
        Events.MessageBounced => MessageBounced,
        Events.MessageComplained => MessageComplained,
        Events.ChatAccepted => ChatAccepted,
        Events.ChatResolved => ChatResolved,
        Events.SurveyAnswered => SurveyAnswered,
        _ => throw new ArgumentOutOfRangeException(nameof(evt), evt.GetType().Name),
    };
}
