using System.Runtime.InteropServices;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// The chDB C API, bound by hand from <c>chdb.h</c> of chdb-io/chdb (no header ships with the npm package) and
/// checked against the symbols libchdb.so 26.5.3 exports (<c>nm -D --defined-only libchdb.so | grep chdb_</c>):
/// <code>
/// chdb_connection* chdb_connect(int argc, char** argv);            // NULL on failure, no error text
/// void             chdb_close_conn(chdb_connection* conn);
/// chdb_result*     chdb_query_n(chdb_connection conn, const char* query, size_t query_len,
///                               const char* format, size_t format_len);   // binary-safe chdb_query
/// char*            chdb_result_buffer(chdb_result* result);
/// size_t           chdb_result_length(chdb_result* result);
/// const char*      chdb_result_error(chdb_result* result);          // NULL when the query succeeded
/// void             chdb_destroy_query_result(chdb_result* result);
/// void             chdb_set_signal_handlers_enabled(int enabled);
/// </code>
/// <c>chdb_connection</c> is itself a pointer (to an opaque struct), so <c>chdb_connect</c> returns a pointer to
/// a pointer: queries take the dereferenced value, <c>chdb_close_conn</c> the pointer returned by connect.
/// The library (559 MB) is not shipped with the build; it is loaded by path at run time, see <see cref="Locate"/>.
/// </summary>
internal static unsafe class ChDbNative
{
    /// <summary>Environment variable naming libchdb.so explicitly.</summary>
    public const string PathVariable = "CARTRECOVERY_CHDB_LIB";

    /// <summary>Where scripts/install-chdb.sh puts the library, relative to the repository root.</summary>
    public static readonly string RelativeInstallPath = Path.Combine(".tools", "chdb", "libchdb.so");

    private static readonly Lock Gate = new();
    private static volatile bool _loaded;

    public static string? LoadedFrom { get; private set; }

    public static delegate* unmanaged<int, byte**, nint> Connect;
    public static delegate* unmanaged<nint, void> CloseConnection;
    public static delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint> QueryN;
    public static delegate* unmanaged<nint, void> DestroyQueryResult;
    public static delegate* unmanaged<nint, byte*> ResultBuffer;
    public static delegate* unmanaged<nint, nuint> ResultLength;
    public static delegate* unmanaged<nint, byte*> ResultError;
    /// <summary>Optional export (absent in older builds): null when missing.</summary>
    public static delegate* unmanaged<int, void> SetSignalHandlersEnabled;

    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            var path = Locate(Environment.GetEnvironmentVariable(PathVariable),
                [Directory.GetCurrentDirectory(), AppContext.BaseDirectory]);
            nint library;
            try
            {
                library = NativeLibrary.Load(path);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new ChDbNotFoundException(
                    $"chDB engine at {path} could not be loaded ({e.Message}). It is built for Linux x86_64 with glibc; " +
                    "reinstall it with scripts/install-chdb.sh.", e);
            }

            Connect = (delegate* unmanaged<int, byte**, nint>)Export(library, path, "chdb_connect");
            CloseConnection = (delegate* unmanaged<nint, void>)Export(library, path, "chdb_close_conn");
            QueryN = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint>)Export(library, path, "chdb_query_n");
            DestroyQueryResult = (delegate* unmanaged<nint, void>)Export(library, path, "chdb_destroy_query_result");
            ResultBuffer = (delegate* unmanaged<nint, byte*>)Export(library, path, "chdb_result_buffer");
            ResultLength = (delegate* unmanaged<nint, nuint>)Export(library, path, "chdb_result_length");
            ResultError = (delegate* unmanaged<nint, byte*>)Export(library, path, "chdb_result_error");
            SetSignalHandlersEnabled = NativeLibrary.TryGetExport(library, "chdb_set_signal_handlers_enabled", out var signals)
                ? (delegate* unmanaged<int, void>)signals
                : null;
            LoadedFrom = path;
            _loaded = true;
        }
    }

    private static nint Export(nint library, string path, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address)
            ? address
            : throw new ChDbNotFoundException(
                $"{path} does not export {name}: not the chDB build this code binds (26.5.x); reinstall it with scripts/install-chdb.sh.");

    /// <summary>
    /// Finds libchdb.so: <paramref name="configured"/> (the <see cref="PathVariable"/> variable) if set, else
    /// <c>.tools/chdb/libchdb.so</c> in each start directory and its parents, in order. Throws
    /// <see cref="ChDbNotFoundException"/> naming every path searched.
    /// </summary>
    internal static string Locate(string? configured, IReadOnlyList<string> startDirectories)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (File.Exists(configured)) return Path.GetFullPath(configured);
            throw new ChDbNotFoundException(
                $"{PathVariable} is set to '{configured}', which does not exist. Run scripts/install-chdb.sh " +
                $"(installs <repo>/{RelativeInstallPath}) and point {PathVariable} at it, or unset the variable.");
        }

        var searched = new List<string>();
        foreach (var start in startDirectories)
        {
            for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, RelativeInstallPath);
                if (searched.Contains(candidate)) continue;
                if (File.Exists(candidate)) return candidate;
                searched.Add(candidate);
            }
        }
        throw new ChDbNotFoundException(
            "chDB engine (libchdb.so) not found. Run scripts/install-chdb.sh from the repository root " +
            $"(it installs <repo>/{RelativeInstallPath}) or set {PathVariable} to the library's path. " +
            $"Searched: {string.Join(", ", searched)}");
    }
}

/// <summary>libchdb.so is missing or unusable; the message says how to install it and where it was looked for.</summary>
public sealed class ChDbNotFoundException : Exception
{
    public ChDbNotFoundException(string message) : base(message) { }
    public ChDbNotFoundException(string message, Exception inner) : base(message, inner) { }
}
