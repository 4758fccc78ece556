using System.Runtime.InteropServices;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// Keeps the .NET runtime's signal handlers in place across chDB calls.
/// </summary>
/// <remarks>
/// <para>
/// <c>chdb_connect</c> installs ClickHouse's own handlers for SIGABRT, SIGSEGV, SIGILL, SIGBUS, SIGSYS, SIGFPE,
/// SIGTSTP and SIGTRAP, and one for SIGRTMIN (ClickHouse's stack-trace signal), process-wide. With
/// <c>chdb_set_signal_handlers_enabled(0)</c> it resets the first eight to SIG_DFL instead, and still takes SIGRTMIN.
/// Either way the runtime loses handlers it depends on: it turns SIGSEGV into NullReferenceException, SIGFPE into
/// DivideByZeroException, and uses SIGRTMIN to interrupt threads for garbage collection. Measured with libchdb
/// 26.5.3 on .NET 10: after a bare <c>chdb_connect</c>, a caught NullReferenceException kills the process with
/// SIGSEGV (exit 139) or hangs it.
/// </para>
/// <para>
/// So every chDB call is bracketed: the dispositions of those nine signals are saved before the call, and any the
/// call changed are put back after it. Only these signals are touched, so handlers the runtime registers lazily
/// for other signals (SIGCHLD, SIGINT, SIGTERM, SIGCONT, ...) on other threads are never overwritten. The cost is
/// 18 sigaction calls per statement (microseconds). ClickHouse does not need its handlers to run queries: they
/// only print crash reports and serve <c>system.stack_trace</c>, which must not be queried in this process.
/// </para>
/// </remarks>
internal static unsafe class HostSignalHandlers
{
    // struct sigaction is 152 bytes on x86_64 and aarch64 glibc; the handler pointer comes first.
    private const int SlotSize = 256;

    // Linux numbering (identical on x86_64 and aarch64 for these).
    private const int SigIll = 4, SigTrap = 5, SigAbrt = 6, SigBus = 7, SigFpe = 8, SigSegv = 11, SigTstp = 20, SigSys = 31;

    private static readonly int[] Signals;
    private static readonly delegate* unmanaged<int, byte*, byte*, int> SigAction;

    /// <summary>Number of signal dispositions restored since the process started (for diagnostics and tests).</summary>
    public static int RestoredCount => _restored;
    private static int _restored;

    static HostSignalHandlers()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc)
            || !NativeLibrary.TryGetExport(libc, "sigaction", out var sigaction))
        {
            Signals = [];
            return;
        }
        SigAction = (delegate* unmanaged<int, byte*, byte*, int>)sigaction;
        var rtMin = NativeLibrary.TryGetExport(libc, "__libc_current_sigrtmin", out var current)
            ? ((delegate* unmanaged<int>)current)()
            : 34;
        Signals = [SigAbrt, SigSegv, SigIll, SigBus, SigSys, SigFpe, SigTstp, SigTrap, rtMin];
    }

    /// <summary>Bytes the caller must provide (stackalloc) for <see cref="Save"/>.</summary>
    public static int BufferSize => Signals.Length * SlotSize;

    public static void Save(byte* buffer)
    {
        for (var i = 0; i < Signals.Length; i++)
            if (SigAction(Signals[i], null, buffer + i * SlotSize) != 0)
                *(nint*)(buffer + i * SlotSize) = -1; // unknown: never restored
    }

    public static void RestoreChanged(byte* saved)
    {
        if (Signals.Length == 0) return;
        var current = stackalloc byte[SlotSize];
        for (var i = 0; i < Signals.Length; i++)
        {
            var slot = saved + i * SlotSize;
            if (*(nint*)slot == -1 || SigAction(Signals[i], null, current) != 0) continue;
            if (*(nint*)current == *(nint*)slot) continue;
            if (SigAction(Signals[i], slot, null) == 0) Interlocked.Increment(ref _restored);
        }
    }
}
