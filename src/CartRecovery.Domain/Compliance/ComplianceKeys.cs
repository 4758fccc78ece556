using System.Security.Cryptography;
using System.Text;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// The secrets of the compliance features: the key that signs unsubscribe and resume tokens (the product verifies them)
/// and the key of the shopper pseudonyms (erasure replaces shopper ids by them; the audit chain is keyed by them).
/// Both are configuration, never part of the policy file: <see cref="TokenKeySetting"/> and <see cref="PseudonymKeySetting"/>.
/// Without them a run uses <see cref="Development"/>, fixed and public, so local runs and tests are reproducible; the
/// worker says so at start (a production deployment must set both, k8s/ takes them from the Secret).
/// </summary>
public sealed class ComplianceKeys
{
    public const string TokenKeySetting = "Compliance:TokenKey";
    public const string PseudonymKeySetting = "Compliance:PseudonymKey";
    private const int MinimumKeyLength = 16;

    private readonly byte[] _tokenKey;
    private readonly byte[] _pseudonymKey;

    public ComplianceKeys(string tokenKey, string pseudonymKey)
    {
        _tokenKey = Key(tokenKey, TokenKeySetting);
        _pseudonymKey = Key(pseudonymKey, PseudonymKeySetting);
    }

    /// <summary>True for the built-in development keys.</summary>
    public bool IsDevelopment { get; private init; }

    /// <summary>Fixed, public keys for local runs and tests: never for production.</summary>
    public static ComplianceKeys Development { get; } = new("development-token-key-not-secret", "development-pseudonym-key-not-secret") { IsDevelopment = true };

    /// <summary>The configured keys; <see cref="Development"/> when neither is set; one without the other is an error.</summary>
    public static ComplianceKeys From(string? token, string? pseudonym)
    {
        if (string.IsNullOrEmpty(token) && string.IsNullOrEmpty(pseudonym)) return Development;
        if (string.IsNullOrEmpty(token)) throw new ArgumentException($"{TokenKeySetting} is not set while the pseudonym key is: set both");
        if (string.IsNullOrEmpty(pseudonym)) throw new ArgumentException($"{PseudonymKeySetting} is not set while the token key is: set both");
        return new ComplianceKeys(token, pseudonym);
    }

    /// <summary>The keyed pseudonym of a shopper id: stable for one key, not reversible without it.</summary>
    public string Pseudonym(string shopperId)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Mac(_pseudonymKey, ["shopper", shopperId], mac);
        return "ps_" + Convert.ToHexStringLower(mac[..16]);
    }

    /// <summary>
    /// The keyed pseudonym of one of the shopper's session ids, which storefronts often derive from the shopper
    /// (<c>sess-5-000228-0</c> of <c>cust-5-000228</c>). Keyed by the shopper too: two shoppers' equal session ids stay two
    /// sessions. Erasure uses the same function on rows in memory and in the store, so joins on (shopper, session) still
    /// match and every metric is the same before and after. An empty id (a row about no session) stays empty.
    /// </summary>
    public string SessionPseudonym(string shopperId, string sessionId)
    {
        if (sessionId.Length == 0) return "";
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Mac(_pseudonymKey, ["session", shopperId, sessionId], mac);
        return "ss_" + Convert.ToHexStringLower(mac[..16]);
    }

    /// <summary>The MAC of token content under the token key.</summary>
    public byte[] SignToken(params ReadOnlySpan<string> parts)
    {
        var mac = new byte[HMACSHA256.HashSizeInBytes];
        Mac(_tokenKey, parts, mac);
        return mac;
    }

    /// <summary>HMAC-SHA256 over each part then a unit separator, computed at once (<see cref="Decisions.DigestInput"/>).</summary>
    private static void Mac(byte[] key, ReadOnlySpan<string> parts, Span<byte> destination)
    {
        var input = Decisions.DigestInput.Start();
        foreach (var part in parts) input.Part(part);
        HMACSHA256.HashData(key, input.Bytes, destination);
    }

    private static byte[] Key(string value, string name)
    {
        if (string.IsNullOrEmpty(value) || value.Length < MinimumKeyLength)
            throw new ArgumentException($"{name} must be at least {MinimumKeyLength} characters");
        return Encoding.UTF8.GetBytes(value);
    }
}
