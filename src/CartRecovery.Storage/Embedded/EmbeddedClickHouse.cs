using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// The in-process ClickHouse engine (chDB, ClickHouse 26.5) over a data directory: MergeTree tables persisted
/// under <see cref="DataDirectory"/>, queried with ClickHouse SQL, results returned as text.
/// </summary>
/// <remarks>
/// <para>Engine constraints, measured with libchdb.so 26.5.3 (npm @chdb/lib-linux-x64-gnu) and matching chdb.h:</para>
/// <list type="bullet">
/// <item><b>One process at a time owns a data directory.</b> The engine takes an exclusive lock (flock) on
/// <c>&lt;dir&gt;/status</c> for as long as a connection is open; another process connecting to the same directory
/// fails ("Cannot lock file .../status. Another server instance in same directory is already running"), which
/// <see cref="Open"/> reports as an <see cref="IOException"/>. The file is removed on a clean close; a stale one
/// left by a crash is not locked and does not block.</item>
/// <item><b>One data directory per process at a time.</b> While any connection is open, <c>chdb_connect</c> with a
/// different <c>--path</c> returns NULL (no error text). Several connections to the <i>same</i> directory are
/// allowed. Once every connection is closed, the process can connect again, to the same directory (the data is
/// there) or to another one.</item>
/// <item><b>Signal handlers.</b> <c>chdb_connect</c> replaces process-wide handlers the .NET runtime depends on;
/// every call here restores them (<see cref="HostSignalHandlers"/>). Without that, the first NullReferenceException
/// after opening kills the process.</item>
/// </list>
/// <para>
/// This class therefore keeps one native connection per process: <see cref="Open"/> with the directory that is
/// already open returns another handle on the same connection (reference-counted; the connection closes when the
/// last handle is disposed), and <see cref="Open"/> with a different directory while handles are open throws
/// <see cref="InvalidOperationException"/> naming both. All statements of all handles are serialized by one lock
/// (a chDB connection runs one statement at a time). Each call runs in database <c>default</c>, or the one passed
/// to <see cref="Query(string, string, string)"/>; a <c>USE</c> statement does not carry over to the next call.
/// </para>
/// </remarks>
public sealed partial class EmbeddedClickHouse : IDisposable
{
    /// <summary>The format <see cref="Query(string, string)"/> uses when none is given.</summary>
    public const string DefaultFormat = "TabSeparatedWithNames";

    /// <summary>The database statements run in unless another is given.</summary>
    public const string DefaultDatabase = "default";

    private static readonly Lock Registry = new();
    private static Session? _open; // the process's one connection, if any

    private Session? _session; // null once disposed

    private EmbeddedClickHouse(Session session)
    {
        _session = session;
        DataDirectory = session.DataDirectory;
    }

    /// <summary>Full path of the data directory.</summary>
    public string DataDirectory { get; }

    /// <summary>The data directory this process has open, or null.</summary>
    public static string? OpenDataDirectory
    {
        get { lock (Registry) return _open?.DataDirectory; }
    }

    /// <summary>
    /// Opens (creating it if needed) the engine on <paramref name="dataDirectory"/>, or returns another handle on
    /// the connection this process already has to that directory. Loads libchdb.so on first use
    /// (<c>CARTRECOVERY_CHDB_LIB</c>, else <c>.tools/chdb/libchdb.so</c> above the current and the application
    /// directory; scripts/install-chdb.sh installs it).
    /// </summary>
    /// <exception cref="InvalidOperationException">Another data directory is open in this process.</exception>
    /// <exception cref="IOException">The engine could not open the directory, e.g. another process owns it.</exception>
    /// <exception cref="ChDbNotFoundException">libchdb.so is not installed.</exception>
    public static EmbeddedClickHouse Open(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDirectory));
        lock (Registry)
        {
            if (_open is { } open)
            {
                if (!string.Equals(open.DataDirectory, path, StringComparison.Ordinal))
                    throw new InvalidOperationException(
                        $"chDB can open one data directory per process: {open.DataDirectory} is open ({open.Handles} handle(s)); " +
                        $"dispose them before opening {path}.");
                open.Handles++;
                return new EmbeddedClickHouse(open);
            }

            ChDbNative.EnsureLoaded();
            Directory.CreateDirectory(path);
            var connection = Connect(path);
            _open = new Session(path, connection);
            return new EmbeddedClickHouse(_open);
        }
    }

    private static unsafe nint Connect(string path)
    {
        var arguments = new[] { "clickhouse", $"--path={path}" };
        var native = new nint[arguments.Length];
        var saved = stackalloc byte[HostSignalHandlers.BufferSize];
        try
        {
            for (var i = 0; i < arguments.Length; i++) native[i] = Marshal.StringToCoTaskMemUTF8(arguments[i]);
            nint connection;
            HostSignalHandlers.Save(saved);
            try
            {
                // Ask chDB not to install its crash handlers; connect still resets some, which the guard restores.
                if (ChDbNative.SetSignalHandlersEnabled != null) ChDbNative.SetSignalHandlersEnabled(0);
                fixed (nint* argv = native) connection = ChDbNative.Connect(arguments.Length, (byte**)argv);
            }
            finally
            {
                HostSignalHandlers.RestoreChanged(saved);
            }
            if (connection == 0 || *(nint*)connection == 0) throw ConnectFailure(path);
            return connection;
        }
        finally
        {
            foreach (var pointer in native)
                if (pointer != 0) Marshal.FreeCoTaskMem(pointer);
        }
    }

    private static IOException ConnectFailure(string path)
    {
        var status = Path.Combine(path, "status");
        string reason;
        try
        {
            reason = File.Exists(status)
                ? $"its status file says: {File.ReadAllText(status).Trim().ReplaceLineEndings("; ")}"
                : "the directory may not be writable or may hold data of an incompatible ClickHouse version";
        }
        catch (IOException)
        {
            // The engine holds an exclusive flock on <dir>/status while a connection is open; .NET honours it.
            reason = $"another process owns it ({status} is locked); only one process at a time may use a data directory";
        }
        catch (UnauthorizedAccessException)
        {
            reason = $"{status} is not readable";
        }
        return new IOException($"chDB could not open the data directory {path}: {reason}. The engine's own message, if any, is on stderr.");
    }

    /// <summary>Runs one statement in database <c>default</c>; returns its output in <paramref name="format"/> as UTF-8 text.</summary>
    /// <exception cref="ClickHouseQueryException">The engine refused the statement.</exception>
    public string Query(string sql, string format = DefaultFormat) => Query(sql, format, DefaultDatabase);

    /// <summary>Runs one statement in <paramref name="database"/> (which must exist); returns its output as UTF-8 text.</summary>
    /// <exception cref="ClickHouseQueryException">The engine refused the statement.</exception>
    public string Query(string sql, string format, string database)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(sql.Length));
        try
        {
            var length = Encoding.UTF8.GetBytes(sql, buffer);
            return Execute(buffer.AsSpan(0, length), format, database, sql);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Runs a statement given as UTF-8 (inserts build theirs without an intermediate string).</summary>
    internal string Execute(ReadOnlySpan<byte> sql, string format, string database, string? sqlText = null)
    {
        var session = _session;
        ObjectDisposedException.ThrowIf(session is null, this);
        return Execute(session, session, sql, format, database, sqlText);
    }

    /// <summary>Runs <paramref name="sql"/> on <paramref name="target"/> (the process's connection or a restricted one on the
    /// same directory) under <paramref name="owner"/>'s lock: chDB runs one statement at a time per process.</summary>
    private string Execute(Session owner, Session target, ReadOnlySpan<byte> sql, string format, string database, string? sqlText)
    {
        ValidateIdentifier(format, nameof(format));
        ValidateIdentifier(database, nameof(database));
        lock (owner.Gate)
        {
            ObjectDisposedException.ThrowIf(owner.Connection == 0 || target.Connection == 0 || _session is null, this);
            if (target.CurrentDatabase != database)
            {
                target.CurrentDatabase = null;
                var use = Encoding.UTF8.GetBytes($"USE `{database}`");
                ExecuteLocked(target, use, format, null);
                target.CurrentDatabase = database;
            }
            if (StartsWithUse(sql)) target.CurrentDatabase = null; // the next call re-establishes its database
            return ExecuteLocked(target, sql, format, sqlText);
        }
    }

    /// <summary>
    /// A second connection to this data directory with its own session settings: <paramref name="settings"/> are set
    /// (<c>SET name = value</c>), then <c>readonly = 1</c>, after which the session refuses writes, DDL, table functions
    /// that need a source privilege (file, url, s3, mysql, sqlite, remote, executable, ...) and any change of a setting,
    /// its limits included (measured on chDB 26.5). The process's own connection is unaffected.
    /// </summary>
    public ReadOnlySession OpenReadOnlySession(IEnumerable<KeyValuePair<string, string>> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var owner = _session;
        ObjectDisposedException.ThrowIf(owner is null, this);
        var handle = Open(DataDirectory); // keeps the directory open for as long as the session lives
        Session restricted;
        lock (owner.Gate) restricted = new Session(DataDirectory, Connect(DataDirectory));
        var session = new ReadOnlySession(handle, owner, restricted);
        try
        {
            foreach (var (name, value) in settings)
            {
                ValidateIdentifier(name, nameof(settings));
                session.Set(name, value);
            }
            session.Set("readonly", "1");
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return session;
    }

    /// <summary>A read-only connection of <see cref="OpenReadOnlySession"/>; statements are serialized with the process's connection.</summary>
    public sealed class ReadOnlySession : IDisposable
    {
        private readonly EmbeddedClickHouse _handle;
        private readonly Session _owner;
        private readonly Session _session;

        internal ReadOnlySession(EmbeddedClickHouse handle, Session owner, Session session)
        {
            _handle = handle;
            _owner = owner;
            _session = session;
        }

        internal void Set(string name, string value) => Query($"SET {name} = {value}", DefaultFormat, DefaultDatabase);

        /// <summary>Runs one statement in <paramref name="database"/> on the read-only connection.</summary>
        /// <exception cref="ClickHouseQueryException">The engine refused the statement or stopped it at a limit.</exception>
        public string Query(string sql, string format, string database)
        {
            ArgumentNullException.ThrowIfNull(sql);
            return _handle.Execute(_owner, _session, Encoding.UTF8.GetBytes(sql), format, database, sql);
        }

        public void Dispose()
        {
            lock (_owner.Gate) Close(_session);
            _handle.Dispose();
        }
    }

    private static unsafe string ExecuteLocked(Session session, ReadOnlySpan<byte> sql, string format, string? sqlText)
    {
        Span<byte> formatBytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(format.Length)];
        formatBytes = formatBytes[..Encoding.UTF8.GetBytes(format, formatBytes)];
        var saved = stackalloc byte[HostSignalHandlers.BufferSize];
        nint result;
        HostSignalHandlers.Save(saved);
        try
        {
            fixed (byte* q = sql)
            fixed (byte* f = formatBytes)
                result = ChDbNative.QueryN(*(nint*)session.Connection, q, (nuint)sql.Length, f, (nuint)formatBytes.Length);
        }
        finally
        {
            HostSignalHandlers.RestoreChanged(saved);
        }
        if (result == 0)
            throw new ClickHouseQueryException("chDB returned no result (connection closed?)", sqlText ?? Head(sql));
        try
        {
            var error = ChDbNative.ResultError(result);
            if (error != null && *error != 0)
                throw new ClickHouseQueryException(Marshal.PtrToStringUTF8((nint)error) ?? "unknown chDB error", sqlText ?? Head(sql));
            var buffer = ChDbNative.ResultBuffer(result);
            var length = ChDbNative.ResultLength(result);
            if (buffer == null || length == 0) return "";
            if (length > int.MaxValue)
                throw new ClickHouseQueryException($"result of {length} bytes is too large to return as text; add a LIMIT", sqlText ?? Head(sql));
            return Encoding.UTF8.GetString(buffer, (int)length);
        }
        finally
        {
            ChDbNative.DestroyQueryResult(result);
        }
    }

    /// <summary>The start of a UTF-8 statement as text, for error messages (enough for the 200-character head).</summary>
    private static string Head(ReadOnlySpan<byte> sql) => Encoding.UTF8.GetString(sql[..Math.Min(sql.Length, 1024)]);

    private static bool StartsWithUse(ReadOnlySpan<byte> sql)
    {
        var trimmed = sql.TrimStart(" \t\r\n"u8);
        return trimmed.Length > 4 && (trimmed[0] | 0x20) == 'u' && (trimmed[1] | 0x20) == 's' && (trimmed[2] | 0x20) == 'e'
            && trimmed[3] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';
    }

    /// <summary>Throws unless <paramref name="name"/> is a plain identifier (letters, digits, underscore), safe to splice into SQL.</summary>
    internal static void ValidateIdentifier(string name, string parameter)
    {
        ArgumentNullException.ThrowIfNull(name, parameter);
        if (!IdentifierPattern().IsMatch(name))
            throw new ArgumentException($"'{name}' is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)", parameter);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex IdentifierPattern();

    /// <summary>Releases this handle; the connection closes (and the data directory is released) with the last one.</summary>
    public void Dispose()
    {
        lock (Registry)
        {
            var session = _session;
            if (session is null) return;
            _session = null;
            if (--session.Handles > 0) return;
            if (ReferenceEquals(_open, session)) _open = null;
            lock (session.Gate) Close(session);
        }
    }

    private static unsafe void Close(Session session)
    {
        if (session.Connection == 0) return;
        var saved = stackalloc byte[HostSignalHandlers.BufferSize];
        HostSignalHandlers.Save(saved);
        try
        {
            ChDbNative.CloseConnection(session.Connection);
        }
        finally
        {
            HostSignalHandlers.RestoreChanged(saved);
            session.Connection = 0;
        }
    }

    internal sealed class Session(string dataDirectory, nint connection)
    {
        public readonly string DataDirectory = dataDirectory;
        public readonly Lock Gate = new();
        public nint Connection = connection; // chdb_connection*
        public int Handles = 1;
        public string? CurrentDatabase = DefaultDatabase;
    }
}
