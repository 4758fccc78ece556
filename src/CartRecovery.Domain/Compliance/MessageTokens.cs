using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace CartRecovery.Domain.Compliance;

/// <summary>What a verified token is about.</summary>
public sealed record TokenClaims(string Kind, string ShopperId, IReadOnlyList<string> Scope)
{
    public const string Unsubscribe = "unsubscribe";
    public const string Resume = "resume";
}

/// <summary>
/// Deterministic, signed tokens for the links a message carries: an unsubscribe token scoped to (shopper, purpose,
/// channel) and a resume-checkout token scoped to (shopper, session, trigger). Format:
/// <c>KIND.v1.base64url(fields).base64url(hmac-sha256[..16])</c>, fields joined by U+001F. Deterministic (a replay
/// issues the same token) and verifiable by whoever holds the token key (<c>./run.sh token verify</c>); they carry
/// the shopper id because the shopper's own link must identify them, and nothing else personal.
/// </summary>
public static class MessageTokens
{
    private const string Version = "v1";
    private const int MacBytes = 16;

    public static string Unsubscribe(ComplianceKeys keys, string shopperId, string purpose, string channel) =>
        Issue(keys, TokenClaims.Unsubscribe, [shopperId, purpose, channel]);

    public static string Resume(ComplianceKeys keys, string shopperId, string sessionId, string triggerId) =>
        Issue(keys, TokenClaims.Resume, [shopperId, sessionId, triggerId]);

    /// <summary>The claims of a token signed with <paramref name="keys"/>; null when it is malformed or its signature does not match.</summary>
    public static TokenClaims? Verify(ComplianceKeys keys, string token)
    {
        var parts = token.Trim().Split('.');
        if (parts.Length != 4 || parts[1] != Version || parts[0] is not (TokenClaims.Unsubscribe or TokenClaims.Resume)) return null;
        byte[] content, mac;
        try
        {
            content = Base64Url.DecodeFromChars(parts[2]);
            mac = Base64Url.DecodeFromChars(parts[3]);
        }
        catch (FormatException)
        {
            return null;
        }
        var fields = Encoding.UTF8.GetString(content).Split('\u001f');
        if (fields.Length != 3) return null;
        var expected = keys.SignToken([parts[0], Version, .. fields]).AsSpan(0, MacBytes);
        if (!CryptographicOperations.FixedTimeEquals(expected, mac)) return null;
        return new TokenClaims(parts[0], fields[0], fields[1..]);
    }

    private static string Issue(ComplianceKeys keys, string kind, string[] fields)
    {
        var content = Encoding.UTF8.GetBytes(string.Join('\u001f', fields));
        var mac = keys.SignToken([kind, Version, .. fields]).AsSpan(0, MacBytes);
        return $"{kind}.{Version}.{Base64Url.EncodeToString(content)}.{Base64Url.EncodeToString(mac)}";
    }
}
