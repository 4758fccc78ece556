using System.Collections.Immutable;
using Fluid;

namespace CartRecovery.Domain.Policy;

/// <summary>The <c>messages</c> section of a policy file (<see cref="MessagePolicy"/>).</summary>
public static partial class PolicyFile
{
    private static readonly FluidParser Liquid = new();
    private static readonly string[] MessageChannels = ["push", "sms", "email"];

    private static MessagePolicy ParseMessages(Node? node)
    {
        if (node is null) return MessagePolicy.None;
        node.AllowOnly("purpose_statement", "unsubscribe_link", "resume_link", "templates", "unsubscribe_valid_for", "resume_valid_for", "checkout_url");
        var templates = ImmutableDictionary.CreateBuilder<(int, string), MessageTemplate>();
        if (node.Optional("templates") is { } list)
            foreach (var (item, _) in list.Items())
            {
                item.AllowOnly("step", "channel", "subject", "body");
                var step = item.Required("step").NonNegativeInt();
                if (step == 0) throw new PolicyValidationException(item.Key("step"), "must be a step number (1 for the first step)");
                var channel = item.Required("channel").String();
                if (!MessageChannels.Contains(channel))
                    throw new PolicyValidationException(item.Key("channel"), $"must be one of {string.Join(", ", MessageChannels)}");
                if (templates.ContainsKey((step, channel)))
                    throw new PolicyValidationException(item.Path, $"is a second template for step {step} on {channel}");
                var subject = item.Optional("subject") is { } s ? Template(s) : Template(new Node(default, item.Key("subject")), "");
                templates[(step, channel)] = new MessageTemplate(subject, Template(item.Required("body")), item.Path);
            }
        return new MessagePolicy
        {
            PurposeStatement = node.Optional("purpose_statement")?.String() ?? "",
            UnsubscribeLink = node.Optional("unsubscribe_link") is { } u ? Template(u) : null,
            ResumeLink = node.Optional("resume_link") is { } r ? Template(r) : null,
            UnsubscribeValidFor = node.Optional("unsubscribe_valid_for")?.PositiveDuration() ?? MessagePolicy.DefaultUnsubscribeValidFor,
            ResumeValidFor = node.Optional("resume_valid_for")?.PositiveDuration() ?? MessagePolicy.DefaultResumeValidFor,
            CheckoutUrl = node.Optional("checkout_url") is { } c ? Template(c) : null,
            Templates = templates.ToImmutable(),
        };
    }

    private static IFluidTemplate Template(Node node, string? text = null)
    {
        text ??= node.String();
        return Liquid.TryParse(text, out var template, out var error)
            ? template
            : throw new PolicyValidationException(node.Path, $"is not a valid Liquid template: {error}");
    }
}
