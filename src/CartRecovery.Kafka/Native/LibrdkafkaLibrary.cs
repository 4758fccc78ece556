using System.Reflection;
using System.Runtime.InteropServices;

namespace CartRecovery.Kafka.Native;

/// <summary>
/// Loads the one librdkafka native library the whole process uses: Confluent.Kafka's producers,
/// consumers and admin clients, and this assembly's own P/Invokes (the mock cluster API).
/// </summary>
/// <remarks>
/// <para>
/// On Linux the default <c>librdkafka.so</c> shipped in the librdkafka.redist package links
/// against <c>libsasl2.so.3</c>, which Debian 12 does not have. The package also ships
/// <c>centos8-librdkafka.so</c>, which only needs libc, libm, libdl, libpthread and librt;
/// the build copies it to <c>$(OutDir)/runtimes/linux-x64/native/</c> (and, for a
/// RID-specific publish, next to the application). That file is what gets loaded, unless the
/// environment variable <see cref="PathEnvironmentVariable"/> names another file.
/// </para>
/// <para>
/// On other operating systems Confluent.Kafka loads its default library, unless the
/// environment variable is set.
/// </para>
/// <para>
/// Call <see cref="EnsureLoaded"/> before creating the first Confluent.Kafka client; once
/// Confluent.Kafka has loaded a library on its own it cannot be switched any more.
/// </para>
/// </remarks>
public static class LibrdkafkaLibrary
{
    /// <summary>Environment variable that overrides the full path of the librdkafka shared library.</summary>
    public const string PathEnvironmentVariable = "CARTRECOVERY_LIBRDKAFKA";

    /// <summary>The library name our own P/Invokes use (<c>[LibraryImport(LibrdkafkaLibrary.LibraryName)]</c>).</summary>
    internal const string LibraryName = "librdkafka";

    /// <summary>What <see cref="EnsureLoaded"/> returns when Confluent.Kafka's default library was loaded.</summary>
    private const string DefaultLibraryDescription = "librdkafka (Confluent.Kafka default)";

    private const string LinuxFileName = "centos8-librdkafka.so";

    private static readonly object Gate = new();
    private static string? loadedPath;
    private static IntPtr handle;

    /// <summary>
    /// Loads librdkafka once per process (idempotent, thread-safe) and returns the full path of the
    /// shared library that is used, or <c>"librdkafka (Confluent.Kafka default)"</c> on a
    /// non-Linux OS without override.
    /// </summary>
    /// <exception cref="FileNotFoundException">The library file does not exist; the message names the
    /// path(s) searched and <see cref="PathEnvironmentVariable"/>.</exception>
    /// <exception cref="DllNotFoundException">The file exists but could not be loaded.</exception>
    public static string EnsureLoaded()
    {
        var path = Volatile.Read(ref loadedPath);
        if (path is not null)
        {
            return path;
        }

        lock (Gate)
        {
            if (loadedPath is not null)
            {
                return loadedPath;
            }

            var resolved = ResolvePath(
                Environment.GetEnvironmentVariable(PathEnvironmentVariable),
                AppContext.BaseDirectory,
                OperatingSystem.IsLinux(),
                RuntimeInformation.ProcessArchitecture);
            if (resolved is null)
            {
                // Not Linux and no override: Confluent.Kafka and our P/Invokes probe their default.
                Confluent.Kafka.Library.Load();
                Volatile.Write(ref loadedPath, DefaultLibraryDescription);
                return DefaultLibraryDescription;
            }

            IntPtr loaded;
            try
            {
                loaded = NativeLibrary.Load(resolved);
            }
            catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
            {
                throw new DllNotFoundException(
                    $"librdkafka at '{resolved}' exists but could not be loaded ({ex.Message}). " +
                    $"Point the environment variable {PathEnvironmentVariable} at a librdkafka build that works on this OS.",
                    ex);
            }

            handle = loaded;

            // Confluent.Kafka's Library.Load(path) P/Invokes dlopen from "libdl" (Debian 12's glibc has
            // only libdl.so.2, so that import fails on its own), dlopen()s the file and then binds its
            // [DllImport("librdkafka")] methods by name, which would probe the libsasl2-dependent
            // runtimes/linux-x64/native/librdkafka.so. A resolver on the Confluent.Kafka assembly binds
            // both to the right libraries, and those imports to the very handle our P/Invokes use.
            var confluentResolver = TryRegisterResolver(typeof(Confluent.Kafka.Library).Assembly);
            TryRegisterResolver(typeof(LibrdkafkaLibrary).Assembly);

            // Returns false (and does nothing) if Confluent.Kafka already loaded a library, e.g. because
            // a client was created before this call; if that was the same file, dlopen returned the same handle.
            try
            {
                Confluent.Kafka.Library.Load(resolved);
            }
            catch (DllNotFoundException) when (!confluentResolver)
            {
                // Someone else owns Confluent.Kafka's resolver and Load(path) could not get at dlopen:
                // let Confluent.Kafka load by name (on Debian 12 it falls back to centos8-librdkafka itself).
                Confluent.Kafka.Library.Load();
            }

            Volatile.Write(ref loadedPath, resolved);
            return resolved;
        }
    }

    /// <summary>
    /// Full path of the library to load, or null to let Confluent.Kafka load its default
    /// (not Linux and no override). Internal for tests.
    /// </summary>
    internal static string? ResolvePath(string? overridePath, string baseDirectory, bool isLinux, Architecture architecture)
    {
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            var full = Path.GetFullPath(overridePath);
            if (!File.Exists(full))
            {
                throw new FileNotFoundException(
                    $"librdkafka not found at '{full}', the path set by the environment variable {PathEnvironmentVariable}.",
                    full);
            }

            return full;
        }

        if (!isLinux)
        {
            return null;
        }

        var rid = "linux-" + architecture.ToString().ToLowerInvariant();
        string[] candidates =
        [
            // framework-dependent build/publish: NuGet's runtime-specific native assets
            Path.Combine(baseDirectory, "runtimes", rid, "native", LinuxFileName),
            // RID-specific publish (dotnet publish -r linux-x64) flattens native assets next to the app
            Path.Combine(baseDirectory, LinuxFileName),
        ];

        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"librdkafka ({LinuxFileName} from the librdkafka.redist package) not found; searched " +
            string.Join(", ", candidates.Select(c => $"'{c}'")) +
            $". Set the environment variable {PathEnvironmentVariable} to the full path of a librdkafka shared library.",
            candidates[0]);
    }

    private static bool TryRegisterResolver(Assembly assembly)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, Resolve);
            return true;
        }
        catch (InvalidOperationException)
        {
            // Someone else already owns the resolver of that assembly; leave it alone.
            return false;
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var loaded = handle;
        if (loaded == IntPtr.Zero)
        {
            return IntPtr.Zero;
        }

        // Confluent.Kafka imports "librdkafka", "centos8-librdkafka" and "alpine-librdkafka".
        var name = libraryName.EndsWith(".so", StringComparison.Ordinal) ? libraryName[..^3] : libraryName;
        if (name is LibraryName or "centos8-" + LibraryName or "alpine-" + LibraryName)
        {
            return loaded;
        }

        if (libraryName == "libdl" && OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libdl.so.2", out var libdl))
        {
            return libdl;
        }

        return IntPtr.Zero; // default probing
    }
}
