using System.Collections.Immutable;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>What a decision emits: triggers (Kafka + ClickHouse), audit rows, session outcome rows, and the rows of the
/// closed loop: outcome events kept for analysts (<see cref="OutcomeRows"/>) and customer profiles (<see cref="Profiles"/>).</summary>
public sealed record Effects(ImmutableArray<RecoveryTrigger> Triggers, ImmutableArray<AuditRecord> Audits, ImmutableArray<SessionOutcome> Outcomes)
{
    public static readonly Effects None = new([], [], []);

    public ImmutableArray<OutcomeRecord> OutcomeRows { get; init; } = [];
    public ImmutableArray<ShopperProfileRow> Profiles { get; init; } = [];

    public bool IsEmpty => Triggers.IsEmpty && Audits.IsEmpty && Outcomes.IsEmpty && OutcomeRows.IsEmpty && Profiles.IsEmpty;

    public Effects Add(RecoveryTrigger trigger) => this with { Triggers = Triggers.Add(trigger) };
    public Effects Add(AuditRecord audit) => this with { Audits = Audits.Add(audit) };
    public Effects Add(SessionOutcome outcome) => this with { Outcomes = Outcomes.Add(outcome) };
    public Effects Add(OutcomeRecord row) => this with { OutcomeRows = OutcomeRows.Add(row) };
    public Effects Add(ShopperProfileRow? profile) => profile is null ? this : this with { Profiles = Profiles.Add(profile) };

    public Effects Concat(Effects other) => other.IsEmpty ? this : IsEmpty ? other
        : new(Triggers.AddRange(other.Triggers), Audits.AddRange(other.Audits), Outcomes.AddRange(other.Outcomes))
        {
            OutcomeRows = OutcomeRows.AddRange(other.OutcomeRows),
            Profiles = Profiles.AddRange(other.Profiles),
        };
}

/// <summary>Result of one decision step: the new shopper state, the new session state (null once the session
/// is finished and its actor may stop) and the effects.</summary>
public sealed record Decision(ShopperState Shopper, SessionState? Session, Effects Effects);
