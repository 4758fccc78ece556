using System.Globalization;
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
