using System.Collections.Immutable;
using Fluid;

namespace CartRecovery.Domain.Policy;

/// <summary>
/// What the policy says about the messages its reminders become (policy key <c>messages</c>, docs/compliance.md): the
/// purpose statement shown to the shopper, the unsubscribe and resume-checkout link templates (Liquid, with
/// <c>{{ token }}</c>), and optional subject/body templates per step and channel. All Liquid, parsed when the policy
/// is loaded, so a template error is a policy error naming its key.
/// </summary>
public sealed record MessagePolicy
{
    public string PurposeStatement { get; init; } = "";
    public IFluidTemplate? UnsubscribeLink { get; init; }
    public IFluidTemplate? ResumeLink { get; init; }
    /// <summary>Keyed by (step number, channel).</summary>
    public ImmutableDictionary<(int Step, string Channel), MessageTemplate> Templates { get; init; } =
        ImmutableDictionary<(int Step, string Channel), MessageTemplate>.Empty;

    public static MessagePolicy None { get; } = new();

    public MessageTemplate? TemplateFor(int step, string channel) => Templates.GetValueOrDefault((step, channel));
}

/// <summary>A message's subject (may be empty for SMS and push) and body, as parsed Liquid templates; <see cref="Path"/> is
/// where it is in the policy file (<c>messages.templates[0]</c>).</summary>
public sealed record MessageTemplate(IFluidTemplate Subject, IFluidTemplate Body, string Path = "");
