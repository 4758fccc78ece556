using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Decisions;

/// <summary>Consent: purpose- and channel-specific records, newest wins; purposes nest, so an opt-out from a purpose
/// that contains cart recovery (marketing, or everything) covers it too.</summary>
public sealed partial class RecoveryEngine
{
    /// <summary>The purpose that contains every marketing purpose, cart recovery included.</summary>
    public const string MarketingPurpose = "marketing";
    /// <summary>A purpose or channel value that means every purpose or every channel.</summary>
    public const string Everything = "all";

    /// <summary>Applies a consent change to the shopper. The newer consent wins; at the same instant a
    /// withdrawal or unsubscribe wins over a grant.</summary>
    public Decision Apply(ShopperState shopper, ConsentEvent evt, Watermark watermark)
    {
        if (IsRedelivery(ref shopper, evt, "", out var duplicate)) return new Decision(shopper, null, duplicate);
        var effects = LateAudit(shopper, evt, "", watermark);

        var granted = evt is ConsentGranted;
        var kind = evt switch { ConsentGranted => "granted", ConsentWithdrawn => "withdrawn", _ => "unsubscribed" };
        var key = ShopperState.ConsentKey(evt.Purpose, evt.Channel);
        var current = shopper.Consents.GetValueOrDefault(key);
        var wins = current is null || evt.EventTime > current.At || (evt.EventTime == current.At && !granted);
        if (wins)
            shopper = shopper with
            {
                Consents = shopper.Consents.SetItem(key, new ConsentRecord(SharedStrings.Of(evt.Purpose), SharedStrings.Of(evt.Channel), granted, evt.EventId,
                    evt.EventTime, SharedStrings.Of(evt.Source), SharedStrings.Of(evt.WordingVersion), kind)),
            };
        var covers = !granted && evt.Purpose != RecoveryPurpose && SendGate.PurposesCoveringRecovery.Contains(evt.Purpose) ? " covers=cart_recovery" : "";
        effects = effects.Add(Rows.Audit(shopper.ShopperId, "", AuditDecisions.ConsentChanged, wins ? kind : kind + "_superseded", evt.EventTime,
            [evt.EventId], channel: evt.Channel,
            detail: $"purpose={evt.Purpose} source={evt.Source} wording={evt.WordingVersion}{covers}"));
        return new Decision(shopper, null, effects);
    }
}
