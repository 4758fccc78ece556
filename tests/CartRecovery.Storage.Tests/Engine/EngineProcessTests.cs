namespace CartRecovery.Storage.Tests.Engine;

/// <summary>
/// The engine's per-process constraints, each probed in fresh child processes (see <see cref="Program"/>): this
/// test process keeps a chDB directory open for the other tests, and a failure here must not take it down.
/// </summary>
public sealed class EngineProcessTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly string _root = Directory.CreateTempSubdirectory("cartrecovery-chdb-process-").FullName;

    [Fact]
    public async Task Runtime_signal_handling_survives_the_engine()
    {
        var (exitCode, lines) = await ChildProcess.RunAsync(Timeout, "signals", Path.Combine(_root, "signals"));

        Assert.Equal(
            [
                "select 1", "restored handlers yes", "NullReferenceException caught", "DivideByZeroException caught",
                "20 collections with a spinning thread", "select 2",
            ],
            lines);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task One_directory_per_process_shared_by_handles_and_reopenable()
    {
        var first = Path.Combine(_root, "first");
        var second = Path.Combine(_root, "second");

        var (exitCode, lines) = await ChildProcess.RunAsync(Timeout, "directories", first, second);

        Assert.Equal(
            [
                "same directory shared True rows 1",
                "second directory refused, names both True",
                "after first handle disposed rows 1",
                "disposed handle refuses queries",
                "open directory none",
                "second directory rows 2",
                "first directory reopened rows 1",
            ],
            lines);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task A_directory_has_one_owner_process_and_keeps_its_data_for_the_next()
    {
        var directory = Path.Combine(_root, "owned");
        using var owner = ChildProcess.Start("hold", directory);
        await owner.WaitForLineAsync("ready", Timeout);

        var (_, refused) = await ChildProcess.RunAsync(Timeout, "open", directory);
        var refusal = Assert.Single(refused);
        Assert.StartsWith($"IOException chDB could not open the data directory {directory}: another process owns it", refusal);

        owner.CloseInput();
        var (ownerExit, ownerLines) = await owner.WaitForExitAsync(Timeout);
        Assert.Equal(0, ownerExit);
        Assert.Equal(["ready", "released"], ownerLines);

        var (_, next) = await ChildProcess.RunAsync(Timeout, "open", directory);
        Assert.Equal(["opened rows 3"], next);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}
