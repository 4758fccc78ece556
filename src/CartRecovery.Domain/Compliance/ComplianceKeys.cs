using System.Security.Cryptography;
using System.Text;

namespace CartRecovery.Domain.Compliance;

/// <summary>
/// The secrets of the compliance features: the key that seals unsubscribe and resume tokens (the product opens them),
/// the key of the shopper pseudonyms (erasure replaces shopper ids by them; the audit chain is keyed by them) and the key
/// that authenticates the records only the worker writes (identity hand-overs and forwarded events on the input topic,
/// drain progress, audit chain heads): a storefront can publish on cart-events, but cannot sign.
/// All are configuration, never part of the policy file: <see cref="TokenKeySetting"/>, <see cref="PseudonymKeySetting"/>,
/// <see cref="RecordKeySetting"/>. Without them a command refuses to run unless development keys are explicitly allowed
/// (<see cref="AllowDevelopmentSetting"/>): then <see cref="Development"/>, fixed and public, so local runs and tests are
/// reproducible, with a warning at start (a production deployment sets all three, k8s/ takes them from the Secret).
/// </summary>
public sealed class ComplianceKeys
{
    public const string TokenKeySetting = "Compliance:TokenKey";
    public const string PseudonymKeySetting = "Compliance:PseudonymKey";
    public const string RecordKeySetting = "Compliance:RecordKey";
    /// <summary>true: the public development keys may stand in for unset keys (local runs, tests; never production).</summary>
    public const string AllowDevelopmentSetting = "Compliance:AllowDevelopmentKeys";
    private const int MinimumKeyLength = 16;

    private readonly byte[] _tokenKey;
    private readonly byte[] _pseudonymKey;
    private readonly byte[] _recordKey;

    public ComplianceKeys(string tokenKey, string pseudonymKey, string recordKey)
    {
        _tokenKey = Key(tokenKey, TokenKeySetting);
        _pseudonymKey = Key(pseudonymKey, PseudonymKeySetting);
        _recordKey = Key(recordKey, RecordKeySetting);
    }

    /// <summary>True for the built-in development keys.</summary>
    public bool IsDevelopment { get; private init; }

    /// <summary>Fixed, public keys for local runs and tests: never for production.</summary>
    public static ComplianceKeys Development { get; } =
        new("development-token-key-not-secret", "development-pseudonym-key-not-secret", "development-record-key-not-secret") { IsDevelopment = true };

    /// <summary>The configured keys. None set: <see cref="Development"/> if <paramref name="allowDevelopment"/>, else an
    /// error naming the first missing key (production must not sign with public keys). Some set, some not: an error
    /// naming the missing one (a half-configured deployment is a mistake, not a request for development keys).</summary>
    public static ComplianceKeys From(string? token, string? pseudonym, string? record, bool allowDevelopment)
    {
        (string Setting, string? Value)[] keys = [(TokenKeySetting, token), (PseudonymKeySetting, pseudonym), (RecordKeySetting, record)];
        var missing = keys.Where(k => string.IsNullOrEmpty(k.Value)).Select(k => k.Setting).ToList();
        if (missing.Count == keys.Length)
        {
            if (allowDevelopment) return Development;
            throw new ArgumentException($"{missing[0]} is not set (nor {string.Join(", ", missing.Skip(1))}): configure the compliance keys " +
                $"(the secrets directory, CARTRECOVERY_Compliance__..., or a ...File key), or allow the public development keys for a local run " +
                $"with --{AllowDevelopmentSetting}=true (never in production)");
        }
        if (missing.Count > 0)
            throw new ArgumentException($"{missing[0]} is not set while other compliance keys are: set {string.Join(", ", keys.Select(k => k.Setting))}");
        return new ComplianceKeys(token!, pseudonym!, record!);
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

    /// <summary>A 256-bit key derived from the token key for one use (<paramref name="label"/>; HKDF-SHA256): the tokens'
    /// encryption and their synthetic nonces each get their own, so no key serves two algorithms.</summary>
    public byte[] TokenSubkey(string label) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _tokenKey, 32, salt: [], info: Encoding.UTF8.GetBytes(label));

    /// <summary><see cref="TokenSubkey"/> of <paramref name="label"/>, derived once per label and kept: every reminder
    /// issues two tokens, and deriving their keys on each was 1 % of the worker's CPU (docs/performance.md, session 10).
    /// Read-only, so no caller can change the key the next token is sealed with.</summary>
    internal ReadOnlySpan<byte> CachedTokenSubkey(string label)
    {
        var cache = _tokenSubkeys;
        foreach (var (known, key) in cache)
            if (ReferenceEquals(known, label) || known == label) return key;
        var derived = TokenSubkey(label);
        // Copy-on-write: a reader on another thread sees the old array or the new one, both complete.
        _tokenSubkeys = [.. cache, (label, derived)];
        return derived;
    }

    private (string Label, byte[] Key)[] _tokenSubkeys = [];

    /// <summary>Size of <see cref="SignRecord"/>'s MAC in bytes.</summary>
    public const int RecordMacLength = HMACSHA256.HashSizeInBytes;

    /// <summary>The MAC of a record only the worker writes, under the record key: HMAC-SHA256 over a label, the topic,
    /// the record's key and its value, exactly as produced (docs/events.md, "Internal records"). Binding the topic and
    /// key keeps a signed record from being replayed onto another topic or shopper.</summary>
    public byte[] SignRecord(string topic, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _recordKey);
        AppendRecordInput(hmac, topic, key, value);
        return hmac.GetHashAndReset();
    }

    /// <summary>True when <paramref name="mac"/> is <see cref="SignRecord"/> of the record (compared in constant time).</summary>
    public bool VerifyRecord(string topic, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ReadOnlySpan<byte> mac)
    {
        if (mac.Length != RecordMacLength) return false;
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _recordKey);
        AppendRecordInput(hmac, topic, key, value);
        Span<byte> expected = stackalloc byte[RecordMacLength];
        hmac.GetHashAndReset(expected);
        return CryptographicOperations.FixedTimeEquals(expected, mac);
    }

    /// <summary>The MAC of a text under the record key (audit chain heads: docs/compliance.md), as lower-case hex.</summary>
    public string SignText(string label, string text)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _recordKey);
        AppendLengthPrefixed(hmac, Encoding.UTF8.GetBytes(label));
        AppendLengthPrefixed(hmac, Encoding.UTF8.GetBytes(text));
        return Convert.ToHexStringLower(hmac.GetHashAndReset());
    }

    // Each part length-prefixed (8 bytes, little endian): no value, however crafted, can shift bytes between parts.
    private static void AppendRecordInput(IncrementalHash hmac, string topic, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        AppendLengthPrefixed(hmac, "cartrecovery-internal-record-v1"u8);
        AppendLengthPrefixed(hmac, Encoding.UTF8.GetBytes(topic));
        AppendLengthPrefixed(hmac, key);
        AppendLengthPrefixed(hmac, value);
    }

    private static void AppendLengthPrefixed(IncrementalHash hmac, ReadOnlySpan<byte> part)
    {
        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, part.Length);
        hmac.AppendData(length);
        hmac.AppendData(part);
    }

    /// <summary>HMAC-SHA256 over each part then a unit separator, computed at once (<see cref="Decisions.DigestInput"/>).</summary>
    private static void Mac(byte[] key, ReadOnlySpan<string> parts, Span<byte> destination)
    {
        var input = Decisions.DigestInput.Start();
        foreach (var part in parts) input.Part(part);
        input.HmacSha256(key, destination);
    }

    private static byte[] Key(string value, string name)
    {
        if (string.IsNullOrEmpty(value) || value.Length < MinimumKeyLength)
            throw new ArgumentException($"{name} must be at least {MinimumKeyLength} characters");
        return Encoding.UTF8.GetBytes(value);
    }
}
