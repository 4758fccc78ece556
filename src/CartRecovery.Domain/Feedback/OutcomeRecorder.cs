using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Feedback;

/// <summary>What recording one outcome gives: the shopper's new state, the row for <c>outcome_events</c>, audit rows.</summary>
public sealed record RecordedOutcome(ShopperState Shopper, OutcomeRecord Row, ImmutableArray<AuditRecord> Audits);

/// <summary>
/// Closes the loop: an outcome reported back about a trigger (delivery, engagement, bounce, complaint, chat, survey) is
/// matched against the triggers the shopper's state holds, kept as an analyst row, audited, and, for a hard bounce or
/// a complaint, retires the message channel for the shopper. Pure: the caller (the engine) has already applied
/// redelivery and lateness rules. The survey's free text goes into the analyst row only: audit rows hold codes and ids.
/// </summary>
public static class OutcomeRecorder
{
    public const string UnmatchedReason = "unmatched";
    public const string SoftBounce = "soft";

    /// <param name="rows">Builds the audit rows (ids, policy version) as for every other decision.</param>
    public static RecordedOutcome Record(ShopperState shopper, OutcomeEvent evt, RecoveryRows rows)
    {
        var type = OutcomeTypes.Of(evt);
        var matched = IsKnown(shopper, evt);
        var channel = evt switch
        {
            MessageOutcome message => message.Channel,
            ChatAccepted or ChatResolved => RecoveryEngine.ChatChannel,
            _ => "",
        };
        var row = new OutcomeRecord
        {
            EventId = evt.EventId,
            Type = type,
            ShopperId = evt.ShopperId,
            SessionId = evt.SessionId ?? SessionOfTrigger(shopper, evt.TriggerRef) ?? "",
            TriggerId = evt.TriggerRef,
            Channel = channel,
            Matched = matched,
            BounceType = (evt as MessageBounced)?.BounceType ?? "",
            ResolvedFirstContact = (evt as ChatResolved)?.ResolvedFirstContact,
            Satisfaction = (evt as ChatResolved)?.Satisfaction,
            SurveyReason = (evt as SurveyAnswered)?.Reason ?? "",
            FreeText = (evt as SurveyAnswered)?.FreeText,
            EventTime = evt.EventTime,
        };
        ImmutableArray<string> evidence = evt.TriggerRef.Length > 0 ? [evt.EventId, evt.TriggerRef] : [evt.EventId];
        var detail = $"type={type} matched={(matched ? 1 : 0)}" + (row.SurveyReason.Length > 0 ? $" survey_reason={row.SurveyReason}" : "")
            + (row.BounceType.Length > 0 ? $" bounce_type={row.BounceType}" : "");
        var audits = ImmutableArray.Create(rows.Audit(evt.ShopperId, row.SessionId, AuditDecisions.OutcomeReceived, matched ? type : UnmatchedReason,
            evt.EventTime, evidence, channel: channel, detail: detail));

        if (evt is MessageOpened or MessageClicked)
        {
            var message = (MessageOutcome)evt;
            var points = evt is MessageClicked ? 2 : 1;
            shopper = shopper with { Engagement = shopper.Engagement.SetItem(message.Channel, shopper.Engagement.GetValueOrDefault(message.Channel) + points) };
        }

        if (evt is MessageComplained || evt is MessageBounced { BounceType: not SoftBounce })
        {
            var message = (MessageOutcome)evt;
            if (!shopper.BlockedChannels.ContainsKey(message.Channel))
            {
                // Blocked whether or not the trigger is known: a bounce is a fact about the address, not about the message.
                shopper = shopper with
                {
                    BlockedChannels = shopper.BlockedChannels.SetItem(message.Channel,
                        new ChannelBlock(message.Channel, type, evt.EventId, message.TriggerId, evt.EventTime)),
                };
                audits = audits.Add(rows.Audit(evt.ShopperId, row.SessionId, AuditDecisions.ChannelBlocked, type, evt.EventTime, evidence,
                    channel: message.Channel, detail: $"channel {message.Channel} not used again for this shopper"));
            }
        }
        return new RecordedOutcome(shopper, row, audits);
    }

    /// <summary>True when the shopper's state holds the trigger the outcome names (a reminder within the cap window, a chat
    /// within the attribution window), or, for a survey linked by session only, that session.</summary>
    public static bool IsKnown(ShopperState shopper, OutcomeEvent evt)
    {
        var triggerId = evt.TriggerRef;
        if (triggerId.Length == 0)
            return evt.SessionId is { } sessionId && (shopper.ClosedSessions.ContainsKey(sessionId)
                || shopper.Sent.Any(s => s.SessionId == sessionId) || shopper.OfferedChats.Any(c => c.SessionId == sessionId));
        return SessionOfTrigger(shopper, triggerId) is not null;
    }

    private static string? SessionOfTrigger(ShopperState shopper, string triggerId)
    {
        if (triggerId.Length == 0) return null;
        foreach (var sent in shopper.Sent)
            if (sent.TriggerId == triggerId) return sent.SessionId;
        foreach (var chat in shopper.OfferedChats)
            if (chat.TriggerId == triggerId) return chat.SessionId;
        return null;
    }
}
