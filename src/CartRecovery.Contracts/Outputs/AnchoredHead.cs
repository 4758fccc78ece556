namespace CartRecovery.Contracts.Outputs;

/// <summary>
/// A row of <c>audit_chain_heads</c>: the newest row of one audit chain (a shopper's pseudonym and the hash of the
/// chain's first row), written with the audit rows it anchors and MAC'd with the record key, so <c>audit verify</c> can
/// tell a chain deleted whole or cut short, and a chain rebuilt by someone without the key (docs/compliance.md).
/// </summary>
public sealed record AnchoredHead
{
    public required string ShopperPseudonym { get; init; }
    public required string ChainRoot { get; init; }
    public required long ChainSeq { get; init; }
    public required string ChainHash { get; init; }
    /// <summary>HMAC-SHA256 under Compliance:RecordKey over the four fields above (hex).</summary>
    public required string HeadMac { get; init; }
}
