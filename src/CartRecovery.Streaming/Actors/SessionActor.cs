using Akka.Actor;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using static CartRecovery.Streaming.Actors.SessionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// One actor per shopping session: holds the session's windowed state and runs the pure
/// <see cref="RecoveryEngine"/> on each event and deadline. Suppression is decided here, at send time, with the
/// shopper's policy state handed over by the partition actor (which serializes a shopper's commands, so caps
/// and consent shared by a shopper's sessions on several devices are never raced). Stops when the session ends.
/// </summary>
public sealed class SessionActor : ReceiveActor
{
    private SessionState? _state;

    public SessionActor(RecoveryEngine engine, SessionState? initial)
    {
        _state = initial;
        Receive<ApplyEvent>(cmd => Decide(engine.Apply(cmd.Shopper, _state, cmd.Event, cmd.Watermark), cmd.Shopper.ShopperId, cmd.Event.SessionId));
        Receive<FireDeadline>(cmd =>
        {
            if (_state is null) throw new InvalidOperationException("deadline for a session without state");
            Decide(engine.Fire(cmd.Shopper, _state, cmd.Deadline), _state.ShopperId, _state.SessionId);
        });
    }

    public static Props Props(RecoveryEngine engine, SessionState? initial) => Akka.Actor.Props.Create(() => new SessionActor(engine, initial));

    private void Decide(Decision decision, string shopperId, string sessionId)
    {
        _state = decision.Session;
        Sender.Tell(new SessionDecided(shopperId, sessionId, decision));
        if (_state is null) Context.Stop(Self);
    }
}
