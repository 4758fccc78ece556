using System.Text;

namespace CartRecovery.Domain.Decisions;

/// <summary>Ids, holdout buckets, variants and incentive codes derived from content, never from randomness or
/// the wall clock, so a replay of the same input under the same policy produces the same outputs.</summary>
public static class DeterministicId
{
    public static string From(params ReadOnlySpan<string> parts)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash(parts, hash);
        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>A 64-bit digest of the parts, for remembering many ids compactly (collisions are negligible among
    /// the few hundred ids one shopper has within a horizon).</summary>
    public static ulong Hash64(params ReadOnlySpan<string> parts)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash(parts, hash);
        return BitConverter.ToUInt64(hash[..8]);
    }

    /// <summary>A uniform value in [0, 1) from the parts.</summary>
    public static double Unit(params ReadOnlySpan<string> parts)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash(parts, hash);
        var value = BitConverter.ToUInt64(hash[..8]) >> 11; // 53 bits of mantissa
        return value / (double)(1UL << 53);
    }

    /// <summary>A short code a shopper can type: base32 without look-alike letters.</summary>
    public static string Code(string prefix, params ReadOnlySpan<string> parts)
    {
        const string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        Span<byte> hash = stackalloc byte[32];
        Hash(parts, hash);
        var sb = new StringBuilder(prefix);
        for (var i = 0; i < 10; i++) sb.Append(alphabet[hash[i] % alphabet.Length]);
        return sb.ToString();
    }

    private static void Hash(ReadOnlySpan<string> parts, Span<byte> destination)
    {
        // Each part then a unit separator, so ("ab","c") != ("a","bc"); hashed at once (DigestInput: no per-part arrays).
        var input = DigestInput.Start();
        foreach (var part in parts) input.Part(part);
        input.Sha256(destination);
    }
}
