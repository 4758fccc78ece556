using System.Text;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Compliance;
using Confluent.Kafka;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Records only the worker writes, on topics others write too: identity hand-overs (<c>identity_merged</c>) and forwarded
/// events (<c>identity_forwarded</c>) on cart-events, which storefronts also publish to. Each carries a MAC of its exact
/// bytes under <see cref="ComplianceKeys.RecordKeySetting"/> in the <see cref="MacHeader"/> header; one without it, or
/// whose MAC does not match (forged, or altered after it was written), is dead-lettered and audited, never adopted
/// (docs/events.md, "Internal records").
/// </summary>
public static class InternalRecords
{
    public const string MacHeader = "cartrecovery-mac";

    /// <summary>The event types only the worker may write: a storefront announces a link with <c>identity_linked</c>.</summary>
    public static bool IsInternal(ShopperEvent evt) => evt is IdentityMerged or IdentityForwarded;

    public static byte[] Sign(ComplianceKeys keys, string topic, string key, byte[] value) =>
        keys.SignRecord(topic, Encoding.UTF8.GetBytes(key), value);

    /// <summary>Why the record is not the worker's own (null: its MAC verifies). Details name no value.</summary>
    public static string? Problem(ComplianceKeys keys, string topic, byte[]? key, byte[] value, Headers? headers)
    {
        if (headers is null || !headers.TryGetLastBytes(MacHeader, out var mac))
            return $"unsigned: no {MacHeader} header (only the worker writes this event type)";
        return keys.VerifyRecord(topic, key ?? [], value, mac) ? null
            : $"the {MacHeader} header does not match the record (forged, or altered after the worker wrote it)";
    }
}
