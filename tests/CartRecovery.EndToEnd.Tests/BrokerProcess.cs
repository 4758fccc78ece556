using System.Diagnostics;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>`cartrecovery broker` as its own process, as an operator would run it; its first line names the bootstrap.</summary>
public sealed class BrokerProcess : IDisposable
{
    private readonly Process _process;

    public BrokerProcess(int partitions)
    {
        _process = Cli.Start("broker", "--partitions", partitions.ToString());
        var first = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("broker printed nothing: " + _process.StandardError.ReadToEnd());
        Assert.StartsWith("bootstrap=", first);
        Bootstrap = first["bootstrap=".Length..];
    }

    public string Bootstrap { get; }

    public void Dispose()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
