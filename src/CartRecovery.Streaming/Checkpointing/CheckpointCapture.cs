using CartRecovery.Domain.Identity;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Actors;

namespace CartRecovery.Streaming.Checkpointing;

/// <summary>
/// A partition's checkpoint, taken from its stores: a full snapshot (<c>changed</c> null) or a delta of the changed
/// shoppers (each with all of their sessions). Waiting sessions and quiet shoppers go in as the stores hold them,
/// encoded, so a snapshot copies bytes for them and encodes only what is in use; live sessions come from the copies
/// their actors answered.
/// </summary>
internal static class CheckpointCapture
{
    public static PartitionCheckpoint Take(int partition, Dictionary<string, long> nextOffsets, Watermark watermark, EventTimeFrontier? frontier,
        IdentityLinks identity, ShopperStore shoppers, SessionStore sessions, IReadOnlyDictionary<SessionKey, SessionState> liveCopies,
        List<string>? changed)
    {
        var shopperStates = new List<ShopperState>();
        var shopperBytes = new List<byte[]>();
        var sessionStates = new List<SessionState>();
        var sessionBytes = new List<byte[]>();
        shoppers.Collect(changed, shopperId => !sessions.HasLive(shopperId), shopperStates, shopperBytes);
        if (changed is null) sessions.CollectAll(liveCopies, sessionStates, sessionBytes);
        else foreach (var shopperId in changed) sessions.CollectShopper(shopperId, liveCopies, sessionStates, sessionBytes);
        return new PartitionCheckpoint
        {
            Partition = partition,
            NextOffsets = nextOffsets,
            Watermark = watermark,
            Frontier = frontier,
            Shoppers = shopperStates,
            EncodedShoppers = shopperBytes,
            Sessions = sessionStates,
            EncodedSessions = sessionBytes,
            Identity = identity,
            ChangedShoppers = changed,
        };
    }
}
