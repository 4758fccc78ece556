using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace CartRecovery.Domain.Compliance;

/// <summary>One line of the cart a resume token restores: the sku and its quantity (names and prices are the storefront's).</summary>
public sealed record TokenCartLine(string Sku, int Quantity);

/// <summary>What an authentic token is about. An unsubscribe token names the shopper, purpose and channel to opt out of;
/// a resume token the shopper's session, the trigger, the furthest checkout step and the cart's lines. Both name the
/// trigger they were issued with and when they stop being honoured.</summary>
public sealed record TokenClaims
{
    public const string Unsubscribe = "unsubscribe";
    public const string Resume = "resume";

    public required string Kind { get; init; }
    public required string ShopperId { get; init; }
    public string SessionId { get; init; } = "";
    public string TriggerId { get; init; } = "";
    public string Purpose { get; init; } = "";
    public string Channel { get; init; } = "";
    /// <summary>From this instant on the token is refused (<see cref="TokenStatus.Expired"/>).</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
    /// <summary>Resume: the furthest funnel step the shopper reached (browsing, cart, checkout, payment).</summary>
    public string CheckoutStep { get; init; } = "";
    /// <summary>Resume: the cart's lines, in cart order, as many as <see cref="MessageTokens.MaxCartBytes"/> allows.</summary>
    public IReadOnlyList<TokenCartLine> Lines { get; init; } = [];
    /// <summary>Resume: lines of the cart the token does not carry (the storefront finds them by the trigger id).</summary>
    public int LinesOmitted { get; init; }
}

public enum TokenStatus { Valid, Expired, Invalid }

/// <summary>A token checked at an instant: <see cref="Claims"/> is set for a valid or expired token, null for an invalid one.</summary>
public sealed record TokenCheck(TokenStatus Status, TokenClaims? Claims);

/// <summary>
/// The tokens of the links a message carries, opaque to everyone but the holder of the token key: the claims are
/// encrypted and authenticated with AES-256-GCM under a key derived (HKDF-SHA256) from <c>Compliance:TokenKey</c>, so a
/// link shows no shopper id, and any change to a token, or a token of another key, is refused. Format:
/// <c>KIND.v2.base64url(nonce).base64url(ciphertext ‖ tag)</c>; the kind and version are authenticated data.
/// Deterministic, so a replay issues the same message: the 96-bit nonce is a MAC of the plaintext under a second derived
/// key (a synthetic nonce: two tokens share a nonce only when their whole content is equal, and then they are equal).
/// Tokens carry their expiry (the trigger's event time plus the policy's validity, <see cref="Policy.MessagePolicy"/>).
/// </summary>
public static class MessageTokens
{
    private const string Version = "v2";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    /// <summary>Bound on the encoded cart lines of a resume token, so its link stays a usable URL (about 1.4 KB of token).</summary>
    public const int MaxCartBytes = 1024;

    public static string Unsubscribe(ComplianceKeys keys, string shopperId, string purpose, string channel, string triggerId, DateTimeOffset expiresAt) =>
        Issue(keys, new TokenClaims
        {
            Kind = TokenClaims.Unsubscribe, ShopperId = shopperId, Purpose = purpose, Channel = channel, TriggerId = triggerId, ExpiresAt = expiresAt,
        });

    /// <summary>A resume token carrying the cart's lines (the first ones, up to <see cref="MaxCartBytes"/>; the others counted).</summary>
    public static string Resume(ComplianceKeys keys, string shopperId, string sessionId, string triggerId, DateTimeOffset expiresAt,
        string checkoutStep, IReadOnlyList<TokenCartLine> lines, int linesOmitted = 0)
    {
        var carried = new List<TokenCartLine>();
        var bytes = 0;
        foreach (var line in lines)
        {
            bytes += Encoding.UTF8.GetByteCount(line.Sku) + 6;
            if (bytes > MaxCartBytes) break;
            carried.Add(line);
        }
        return Issue(keys, new TokenClaims
        {
            Kind = TokenClaims.Resume, ShopperId = shopperId, SessionId = sessionId, TriggerId = triggerId, ExpiresAt = expiresAt,
            CheckoutStep = checkoutStep, Lines = carried, LinesOmitted = linesOmitted + lines.Count - carried.Count,
        });
    }

    /// <summary>The claims of an authentic token of <paramref name="keys"/>, expired or not; null when it is malformed,
    /// altered or of another key.</summary>
    public static TokenClaims? Verify(ComplianceKeys keys, string token)
    {
        var parts = token.Trim().Split('.');
        if (parts.Length != 4 || parts[1] != Version || parts[0] is not (TokenClaims.Unsubscribe or TokenClaims.Resume)) return null;
        byte[] nonce, sealedBytes;
        try
        {
            nonce = Base64Url.DecodeFromChars(parts[2]);
            sealedBytes = Base64Url.DecodeFromChars(parts[3]);
        }
        catch (FormatException)
        {
            return null;
        }
        if (nonce.Length != NonceBytes || sealedBytes.Length < TagBytes) return null;
        var plaintext = new byte[sealedBytes.Length - TagBytes];
        try
        {
            using var aes = new AesGcm(keys.CachedTokenSubkey(EncryptionLabel), TagBytes);
            aes.Decrypt(nonce, sealedBytes.AsSpan(0, plaintext.Length), sealedBytes.AsSpan(plaintext.Length), plaintext, AssociatedData(parts[0]));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        // Authentic: these bytes are this class's own encoding, so they read back without surprises.
        var claims = Decode(plaintext);
        return claims.Kind == parts[0] ? claims : null;
    }

    /// <summary>A token checked at <paramref name="now"/>: invalid (malformed, altered, another key), expired, or valid.</summary>
    public static TokenCheck Check(ComplianceKeys keys, string token, DateTimeOffset now) =>
        Verify(keys, token) is not { } claims ? new TokenCheck(TokenStatus.Invalid, null)
        : now >= claims.ExpiresAt ? new TokenCheck(TokenStatus.Expired, claims)
        : new TokenCheck(TokenStatus.Valid, claims);

    private const string EncryptionLabel = "cartrecovery-token-aes-gcm-v2";
    private const string NonceLabel = "cartrecovery-token-nonce-v2";

    private static string Issue(ComplianceKeys keys, TokenClaims claims)
    {
        var plaintext = Encode(claims);
        var associated = AssociatedData(claims.Kind);
        // The nonce: the MAC of associated data then plaintext, taken at once over one pooled buffer.
        var macInput = ArrayPool<byte>.Shared.Rent(associated.Length + plaintext.Length);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        try
        {
            associated.CopyTo(macInput.AsSpan());
            plaintext.CopyTo(macInput.AsSpan(associated.Length));
            HMACSHA256.HashData(keys.CachedTokenSubkey(NonceLabel), macInput.AsSpan(0, associated.Length + plaintext.Length), mac);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(macInput);
        }
        var nonce = mac[..NonceBytes];
        var sealedBytes = new byte[plaintext.Length + TagBytes];
        using (var aes = new AesGcm(keys.CachedTokenSubkey(EncryptionLabel), TagBytes))
            aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(0, plaintext.Length), sealedBytes.AsSpan(plaintext.Length), associated);
        return $"{claims.Kind}.{Version}.{Base64Url.EncodeToString(nonce)}.{Base64Url.EncodeToString(sealedBytes)}";
    }

    private static byte[] AssociatedData(string kind) => kind switch
    {
        // The two kinds' bytes made once (every reminder issues both tokens); read-only by convention, never handed out.
        TokenClaims.Unsubscribe => UnsubscribeAssociated,
        TokenClaims.Resume => ResumeAssociated,
        _ => Encoding.UTF8.GetBytes($"{kind}.{Version}"),
    };

    private static readonly byte[] UnsubscribeAssociated = Encoding.UTF8.GetBytes($"{TokenClaims.Unsubscribe}.{Version}");
    private static readonly byte[] ResumeAssociated = Encoding.UTF8.GetBytes($"{TokenClaims.Resume}.{Version}");

    // A compact binary layout (length-prefixed UTF-8 strings, 7-bit encoded integers): a link should stay short.
    private static byte[] Encode(TokenClaims claims)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(claims.Kind);
            writer.Write(claims.ShopperId);
            writer.Write(claims.SessionId);
            writer.Write(claims.TriggerId);
            writer.Write(claims.Purpose);
            writer.Write(claims.Channel);
            writer.Write(claims.ExpiresAt.ToUnixTimeSeconds());
            writer.Write(claims.CheckoutStep);
            writer.Write7BitEncodedInt(claims.LinesOmitted);
            writer.Write7BitEncodedInt(claims.Lines.Count);
            foreach (var line in claims.Lines)
            {
                writer.Write(line.Sku);
                writer.Write7BitEncodedInt(line.Quantity);
            }
        }
        return buffer.ToArray();
    }

    private static TokenClaims Decode(byte[] plaintext)
    {
        using var reader = new BinaryReader(new MemoryStream(plaintext), Encoding.UTF8);
        var kind = reader.ReadString();
        var shopper = reader.ReadString();
        var session = reader.ReadString();
        var trigger = reader.ReadString();
        var purpose = reader.ReadString();
        var channel = reader.ReadString();
        var expires = DateTimeOffset.FromUnixTimeSeconds(reader.ReadInt64());
        var step = reader.ReadString();
        var omitted = reader.Read7BitEncodedInt();
        var lines = new TokenCartLine[reader.Read7BitEncodedInt()];
        for (var i = 0; i < lines.Length; i++) lines[i] = new TokenCartLine(reader.ReadString(), reader.Read7BitEncodedInt());
        return new TokenClaims
        {
            Kind = kind, ShopperId = shopper, SessionId = session, TriggerId = trigger, Purpose = purpose, Channel = channel,
            ExpiresAt = expires, CheckoutStep = step, LinesOmitted = omitted, Lines = lines,
        };
    }
}
