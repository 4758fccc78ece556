using CartRecovery.Contracts.Outputs;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// Anchors of the audit chains (<see cref="AnchoredHead"/>): after every write of audit rows, the newest row of each
/// chain they extend, MAC'd with the record key. The chain hash alone is keyless (anyone can verify it, and so anyone
/// with write access can recompute it); the anchors are what a deleted chain, a cut-short chain or a rebuilt chain
/// cannot match without the key.
/// </summary>
public static class AuditChainAnchors
{
    /// <summary>The newest linked row of each chain among <paramref name="linked"/>, anchored.</summary>
    public static List<AnchoredHead> HeadsOf(IEnumerable<AuditRecord> linked, ComplianceKeys keys) =>
    [
        .. linked.Where(r => r.ChainHash.Length > 0 && r.ChainVersion >= AuditChain.CurrentVersion)
            .GroupBy(r => (r.ShopperPseudonym, r.ChainRoot))
            .Select(chain => chain.MaxBy(r => r.ChainSeq)!)
            .Select(newest => Anchor(keys, newest.ShopperPseudonym, newest.ChainRoot, newest.ChainSeq, newest.ChainHash)),
    ];

    public static AnchoredHead Anchor(ComplianceKeys keys, string pseudonym, string root, long seq, string hash) => new()
    {
        ShopperPseudonym = pseudonym, ChainRoot = root, ChainSeq = seq, ChainHash = hash,
        HeadMac = keys.SignText("audit-chain-head-v1", Content(pseudonym, root, seq, hash)),
    };

    public static bool Verify(ComplianceKeys keys, AnchoredHead head) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(keys.SignText("audit-chain-head-v1", Content(head.ShopperPseudonym, head.ChainRoot, head.ChainSeq, head.ChainHash))),
            System.Text.Encoding.ASCII.GetBytes(head.HeadMac));

    // Pseudonyms and hashes are hex and "ps_": the separator cannot occur in them.
    private static string Content(string pseudonym, string root, long seq, string hash) => $"{pseudonym}|{root}|{seq}|{hash}";
}
