using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CartRecovery.Domain.Decisions;

/// <summary>
/// The bytes a digest (ids, the audit chain, keyed MACs) is computed over, built in one reused buffer per thread: each
/// part as UTF-8 followed by the unit separator 0x1f, exactly what appending every part to an incremental hash did,
/// so every digest is unchanged, without the hash object, the per-part byte arrays and the number strings an event
/// used to allocate (docs/performance.md, session 6). Use: <see cref="Start"/>, the parts, then hash <see cref="Bytes"/>
/// at once; never start another input before the bytes are hashed (one buffer per thread).
/// </summary>
internal sealed class DigestInput
{
    private const byte UnitSeparator = 0x1f;

    [ThreadStatic] private static DigestInput? _current;

    private byte[] _buffer = new byte[1024];
    private int _length;

    public static DigestInput Start()
    {
        var input = _current ??= new DigestInput();
        input._length = 0;
        return input;
    }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    /// <summary>SHA-256 of the bytes. The hash object is this thread's, reused: the one-shot API sets up and tears down a
    /// native digest context on every call, and ids, dedup hashes and chain hashes take several per event (SHA-256 was
    /// 2 % of the worker's CPU, docs/performance.md, session 10).</summary>
    public void Sha256(Span<byte> destination) => Sha256(Bytes, destination);

    /// <summary>SHA-256 of <paramref name="data"/> with this thread's reused hash object.</summary>
    public static void Sha256(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var sha = _sha256 ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(data);
        sha.GetHashAndReset(destination);
    }

    /// <summary>HMAC-SHA256 of the bytes under <paramref name="key"/>, with this thread's hash object for that key reused
    /// (see <see cref="Sha256(Span{byte})"/>). Keys are told apart by reference: a caller passes the one array it keeps
    /// for a key and never changes it.</summary>
    public void HmacSha256(byte[] key, Span<byte> destination)
    {
        IncrementalHash? mac = null;
        foreach (var (known, kept) in _macs)
            if (ReferenceEquals(known, key))
            {
                mac = kept;
                break;
            }
        if (mac is null)
        {
            // A handful of keys per process (the configured ones, the development ones in tests): a bounded few are kept.
            if (_macs.Length >= MaxKeptMacs)
            {
                HMACSHA256.HashData(key, Bytes, destination);
                return;
            }
            mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
            _macs = [.. _macs, (key, mac)];
        }
        mac.AppendData(Bytes);
        mac.GetHashAndReset(destination);
    }

    private const int MaxKeptMacs = 8;
    [ThreadStatic] private static IncrementalHash? _sha256;
    private (byte[] Key, IncrementalHash Mac)[] _macs = [];

    /// <summary>One part: its UTF-8 bytes and the separator.</summary>
    public DigestInput Part(ReadOnlySpan<char> part) => Text(part).Separator();

    public DigestInput Part(long value) => Number(value).Separator();

    /// <summary>Text of a part without the separator (a part written in pieces, such as a joined list).</summary>
    public DigestInput Text(ReadOnlySpan<char> text)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(text.Length));
        _length += Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_length));
        return this;
    }

    /// <summary>A number as its invariant text (the same bytes as <c>ToString(CultureInfo.InvariantCulture)</c>).</summary>
    public DigestInput Number(long value)
    {
        Ensure(20);
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
        return this;
    }

    /// <summary>A double as its shortest round-trip invariant text (<c>ToString("R", CultureInfo.InvariantCulture)</c>).</summary>
    public DigestInput RoundTrip(double value)
    {
        Ensure(32);
        value.TryFormat(_buffer.AsSpan(_length), out var written, "R", CultureInfo.InvariantCulture);
        _length += written;
        return this;
    }

    public DigestInput Separator()
    {
        Ensure(1);
        _buffer[_length++] = UnitSeparator;
        return this;
    }

    private void Ensure(int more)
    {
        if (_length + more <= _buffer.Length) return;
        Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
    }
}
