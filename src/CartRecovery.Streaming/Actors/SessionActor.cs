using System.Collections.Immutable;
using Akka.Actor;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using static CartRecovery.Streaming.Actors.SessionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// One actor per live shopping session, the only owner of the session's windowed state from its first event until it
/// ends or only waits for a later reminder step: it runs the pure <see cref="RecoveryEngine"/> on each event and deadline,
/// which scores the session and decides, with the shopper's policy state handed over by the partition actor (which
/// serializes a shopper's commands, so caps and consent shared by a shopper's sessions on several devices are never
/// raced). A shopper's consecutive events of a batch come in one message (<see cref="ApplyEvents"/>, applied by
/// <see cref="SessionRun"/>) and are answered once. The partition keeps only the session's pending deadlines.
///
/// A checkpoint does not stop it: it answers <see cref="CopyState"/> with its state (an immutable value, so the copy is
/// the reference) and goes on. A session that only waits for a later reminder step is passivated: the actor hands its
/// state to the partition's store and stops, and the session's next event or deadline revives it in a new actor; so
/// does an identity hand-over or an erasure of its shopper (<see cref="Passivate"/>). Stops when the session ends.
///
/// An event whose decision throws is answered as such (<see cref="SessionDecided.Failure"/>): the state stays the one
/// before it, and the partition dead-letters the event with the cause. A deadline whose decision throws fails as a
/// <see cref="SessionDecisionException"/>, which the partition's supervision (<see cref="SessionSupervision"/>) turns
/// into a dead letter, resuming this actor. So one bad decision neither loses the session nor stalls its partition.
/// </summary>
public sealed class SessionActor : UntypedActor
{
    // An untyped actor: a ReceiveActor builds its handler table per instance, and a session actor is created for every
    // session and every revival (docs/performance.md, session 6).
    private readonly RecoveryEngine _engine;
    private SessionState? _state;

    public SessionActor(RecoveryEngine engine, SessionState? initial)
    {
        _engine = engine;
        _state = initial;
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ApplyEvents cmd:
            {
                var run = SessionRun.Apply(_engine, cmd.Shopper, _state, cmd.Events, cmd.OtherDeadlines);
                Decide(run.Shopper, run.Session, run.Effects, run.Deadlines, cmd.Shopper.ShopperId, cmd.Events[0].Event.SessionId, run.Consumed,
                    run.Failure);
                break;
            }
            case FireDeadline cmd:
            {
                if (_state is null) throw new InvalidOperationException("deadline for a session without state");
                Decision decision;
                ImmutableArray<Deadline> deadlines;
                try
                {
                    decision = _engine.Fire(cmd.Shopper, _state, cmd.Deadline);
                    deadlines = SessionRun.LiveDeadlines(_engine, decision.Session);
                }
                catch (Exception e) { throw new SessionDecisionException(_state.ShopperId, _state.SessionId, cmd, e); }
                Decide(decision.Shopper, decision.Session, decision.Effects.IsEmpty ? [] : [decision.Effects], deadlines, _state.ShopperId,
                    _state.SessionId, 1, null);
                break;
            }
            case CopyState:
                if (_state is null) throw new InvalidOperationException("checkpoint of a session without state");
                Sender.Tell(new SessionStateCopy(_state.ShopperId, _state.SessionId, _state));
                break;
            case Passivate:
                if (_state is null) throw new InvalidOperationException("passivation of a session without state");
                Sender.Tell(new SessionPassivated(_state.ShopperId, _state.SessionId, _state));
                Context.Stop(Self);
                break;
            case ReportState:
                Sender.Tell(new SessionStateOwned(_state));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Made by a producer object, not an expression: <c>Props.Create(() => ...)</c> takes the expression tree apart
    /// (and evaluates its arguments) for every session actor created (docs/performance.md, session 6).</summary>
    public static Props Props(RecoveryEngine engine, SessionState? initial) => Akka.Actor.Props.CreateBy(new Producer(engine, initial));

    private sealed class Producer(RecoveryEngine engine, SessionState? initial) : IIndirectActorProducer
    {
        public Type ActorType => typeof(SessionActor);

        public ActorBase Produce() => new SessionActor(engine, initial);

        public void Release(ActorBase actor) { }
    }

    private void Decide(ShopperState shopper, SessionState? session, IReadOnlyList<Effects> effects, ImmutableArray<Deadline> deadlines,
        string shopperId, string sessionId, int consumed, Exception? failure)
    {
        _state = session;
        if (_state is null)
        {
            // Ended, or a new session whose first event failed: nothing is left to own.
            Sender.Tell(new SessionDecided(shopperId, sessionId, shopper, effects, Ended: true, null, []) { Consumed = consumed, Failure = failure });
            Context.Stop(Self);
        }
        else if (_state.Phase == SessionPhase.Abandoned)
        {
            // Waiting for a later reminder step: the state goes to the partition's store and the actor stops.
            Sender.Tell(new SessionDecided(shopperId, sessionId, shopper, effects, Ended: false, _state, []) { Consumed = consumed, Failure = failure });
            Context.Stop(Self);
        }
        else
        {
            Sender.Tell(new SessionDecided(shopperId, sessionId, shopper, effects, Ended: false, null, deadlines) { Consumed = consumed, Failure = failure });
        }
    }
}

/// <summary>The decision code threw on a session's command: which session, which command, and the cause.</summary>
public sealed class SessionDecisionException(string shopperId, string sessionId, SessionCommand command, Exception cause)
    : Exception($"decision failed on {command.GetType().Name}: {cause.GetType().Name}", cause)
{
    public string ShopperId { get; } = shopperId;
    public string SessionId { get; } = sessionId;
    public SessionCommand Command { get; } = command;
}

/// <summary>
/// The partition actor's supervision of its session actors. An event whose decision throws is answered by the actor
/// itself (<see cref="SessionProtocol.SessionDecided.Failure"/>). A deadline whose decision throws
/// (<see cref="SessionDecisionException"/>) resumes the session actor (its state is the one before the deadline, which
/// changed nothing) and tells the partition, which dead-letters the deadline with the cause and drops that one session
/// (firing it again would fail again), then goes on with the shopper's next command. Any other failure of a session actor (a broken invariant,
/// not a decision) escalates: the partition's own supervisor stops the worker with the cause
/// (<see cref="PartitionSupervisor"/>) rather than letting it stall.
/// </summary>
public static class SessionSupervision
{
    /// <summary>Sent by the strategy to the partition actor (on the partition's own thread, so no state is raced).</summary>
    public sealed record DecisionFailed(string ShopperId, string SessionId, SessionCommand Command, Exception Cause);

    public static SupervisorStrategy For(IActorRef partition) => new OneForOneStrategy(Decider.From(cause =>
    {
        if (cause is not SessionDecisionException failed) return Directive.Escalate;
        partition.Tell(new DecisionFailed(failed.ShopperId, failed.SessionId, failed.Command, failed.InnerException!));
        return Directive.Resume;
    }));
}
