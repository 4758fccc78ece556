using System.Runtime.InteropServices;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// chDB (ClickHouse) installs its own process-wide signal handlers when it connects, replacing the .NET
/// runtime's: afterwards a NullReferenceException (the runtime turns SIGSEGV into it) hangs or kills the
/// process, and GC thread suspension may break. This records every handler the runtime installed before the
/// connect and puts those back afterwards; handlers the runtime does not use (SIGUSR1/2 for ClickHouse's
/// profilers) stay as chDB set them. Linux x86_64 glibc only (struct sigaction is treated as opaque bytes).
/// </summary>
internal static unsafe class SignalHandlerGuard
{
    private const int MaxSignal = 64;
    private const int SigactionBytes = 256; // glibc's struct sigaction is 152 bytes on x86_64: leave room

    [DllImport("libc", SetLastError = true)]
    private static extern int sigaction(int signal, byte* action, byte* oldAction);

    public static T Preserve<T>(Func<T> connect)
    {
        if (!OperatingSystem.IsLinux()) return connect();
        var saved = new byte[(MaxSignal + 1) * SigactionBytes];
        var installed = new bool[MaxSignal + 1];
        fixed (byte* buffer = saved)
        {
            for (var signal = 1; signal <= MaxSignal; signal++)
            {
                var slot = buffer + signal * SigactionBytes;
                if (sigaction(signal, null, slot) != 0) continue;
                var handler = *(nint*)slot;
                installed[signal] = handler != 0 && handler != 1; // neither SIG_DFL nor SIG_IGN
            }
            var result = connect();
            for (var signal = 1; signal <= MaxSignal; signal++)
                if (installed[signal]) sigaction(signal, buffer + signal * SigactionBytes, null);
            return result;
        }
    }
}
