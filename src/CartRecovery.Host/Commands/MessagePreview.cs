using System.Globalization;
using System.Text;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;

namespace CartRecovery.Host.Commands;

/// <summary>A trigger's message as a dispatcher would send it, for <c>./run.sh preview</c>.</summary>
public static class MessagePreview
{
    public static string Render(RecoveryTrigger trigger)
    {
        var text = new StringBuilder();
        text.AppendLine($"trigger   {trigger.TriggerId} ({trigger.Kind}, step {trigger.Step}) on {trigger.Channel}, {trigger.EventTime:yyyy-MM-dd HH:mm} UTC" +
            (trigger.ShopperLocalTime is { } local ? $" ({local.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} {trigger.ShopperTimeZone})" : ""));
        text.AppendLine($"consent   purpose {Or(trigger.Purpose)}, wording {Or(trigger.ConsentWordingVersion)}, evidence {Or(trigger.ConsentEventId)}");
        text.AppendLine($"subject   {Or(trigger.MessageSubject)}");
        text.AppendLine("body");
        if (trigger.MessageBody.Length > 0)
        {
            foreach (var line in trigger.MessageBody.Split('\n')) text.AppendLine("  " + line);
        }
        else
        {
            // No template for this step and channel: the dispatcher composes the message from the trigger's fields.
            text.AppendLine("  (no template for this step and channel in the policy: the dispatcher composes it from)");
            foreach (var line in trigger.CartLines)
                text.AppendLine($"  {line.Quantity} x {Or(line.Name)} [{line.Sku}] {line.UnitPrice.ToString(CultureInfo.InvariantCulture)} {trigger.Currency}");
            if (trigger.IncentiveCode.Length > 0)
                text.AppendLine($"  code {trigger.IncentiveCode}: {IncentiveTypes.Describe(trigger.IncentiveType, trigger.IncentiveValue, trigger.Currency)}" +
                    (trigger.IncentiveExpiresAt is { } expires ? $", valid until {expires:yyyy-MM-dd HH:mm} UTC" : ""));
        }
        text.AppendLine($"resume    {Or(trigger.ResumeUrl.Length > 0 ? trigger.ResumeUrl : trigger.ResumeToken)}");
        text.AppendLine($"opt out   {Or(trigger.UnsubscribeUrl.Length > 0 ? trigger.UnsubscribeUrl : trigger.UnsubscribeToken)}");
        return text.ToString();
    }

    private static string Or(string value) => value.Length > 0 ? value : "-";
}
