using System.Buffers;

namespace CartRecovery.Storage;

/// <summary>
/// The rows of one insert as the store takes them (<see cref="IAnalyticsStore.InsertJsonEachRowAsync"/>): JSONEachRow
/// lines in UTF-8, each ended by <c>\n</c>, written straight into one growing buffer rented from <see cref="Pool"/>
/// and returned to it on <see cref="Dispose"/>. A serializer writes a row through
/// <see cref="Writer"/> (e.g. a <c>Utf8JsonWriter</c>) and closes it with <see cref="EndRow"/>; a row that is already
/// UTF-8 (a trigger's Kafka payload) is copied in with <see cref="AppendRow"/>. No row is ever a .NET string.
/// </summary>
/// <remarks>One contiguous array rather than a stream of blocks (RecyclableMemoryStream): the embedded engine takes
/// a statement as one buffer and the server client a body as one array, so blocks would be joined by a copy into a
/// second buffer anyway. Not thread-safe; the memory of <see cref="Rows"/> is valid until the next write or the
/// dispose.</remarks>
public sealed class JsonEachRowBuffer : IBufferWriter<byte>, IDisposable
{
    private const int MinimumCapacity = 4096;

    /// <summary>The pool of the rows' buffers and of the embedded engine's statements. Not <see cref="ArrayPool{T}.Shared"/>:
    /// a flush rents on one thread-pool thread and returns on whichever runs its continuation, and the shared pool keeps a
    /// returned array in that thread's own slot, where the next flush (on another thread) does not find it: traced, its
    /// rents kept allocating all through a run (docs/performance.md, session 11). This pool has no per-thread slots and
    /// is not trimmed by the GC: each size is allocated once, on the first flushes, and then reused; it keeps at most 4
    /// arrays of each power-of-two size up to 128 MB, the few sizes a worker's inserts actually use.</summary>
    internal static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 128 * 1024 * 1024, maxArraysPerBucket: 4);

    private byte[] _buffer;
    private int _written;
    private int _rowStart;

    public JsonEachRowBuffer(int initialCapacity = MinimumCapacity) =>
        _buffer = Pool.Rent(Math.Max(initialCapacity, MinimumCapacity));

    /// <summary>How many rows are complete.</summary>
    public int RowCount { get; private set; }

    /// <summary>The complete rows: what <see cref="IAnalyticsStore.InsertJsonEachRowAsync"/> takes.</summary>
    public ReadOnlyMemory<byte> Rows
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
            return _buffer.AsMemory(0, _rowStart);
        }
    }

    /// <summary>Where a serializer writes the current row.</summary>
    public IBufferWriter<byte> Writer => this;

    /// <summary>Ends the row written through <see cref="Writer"/> since the last row. A row is one line: a JSON
    /// serializer escapes line breaks inside strings and, unindented, writes none between tokens.</summary>
    public void EndRow()
    {
        var row = _buffer.AsSpan(_rowStart, _written - _rowStart);
        if (row.IsEmpty) throw new InvalidOperationException("an empty row");
        if (row.IndexOfAny((byte)'\n', (byte)'\r') >= 0)
        {
            _written = _rowStart; // the broken row is not kept: the rows before it stay whole
            throw new ArgumentException("a JSONEachRow row must be one line (its line breaks escaped)");
        }
        GetSpan(1)[0] = (byte)'\n';
        Advance(1);
        _rowStart = _written;
        RowCount++;
    }

    /// <summary>Appends a row that is already UTF-8 JSON (one object, one line).</summary>
    public void AppendRow(ReadOnlySpan<byte> utf8Row)
    {
        utf8Row.CopyTo(GetSpan(utf8Row.Length));
        Advance(utf8Row.Length);
        EndRow();
    }

    /// <summary>Forgets every row and keeps the rented buffer (a second batch of rows on the same memory).</summary>
    public void Clear()
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        _written = _rowStart = 0;
        RowCount = 0;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _buffer.Length - _written) throw new InvalidOperationException("advanced past the span given");
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Reserve(int sizeHint)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        var needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed) return;
        // Doubling: the copies of all the growths together are at most the final size.
        var capacity = (int)Math.Min(Array.MaxLength, Math.Max((long)_buffer.Length * 2, (long)_written + needed));
        if (capacity - _written < needed) throw new OutOfMemoryException($"rows of more than {Array.MaxLength} bytes in one insert");
        var grown = Pool.Rent(capacity);
        _buffer.AsSpan(0, _written).CopyTo(grown);
        Pool.Return(_buffer);
        _buffer = grown;
    }

    /// <summary>Returns the buffer to the pool; the memory of <see cref="Rows"/> must no longer be in use.</summary>
    public void Dispose()
    {
        if (_buffer.Length == 0) return;
        Pool.Return(_buffer);
        _buffer = [];
    }
}
