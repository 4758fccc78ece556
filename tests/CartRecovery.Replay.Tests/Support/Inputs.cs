using CartRecovery.Contracts.Serialization;
using CartRecovery.Traffic;

namespace CartRecovery.Replay.Tests.Support;

/// <summary>Recorded inputs written by the tests themselves (the shared REES46 sample is read where it lies).</summary>
public static class Inputs
{
    /// <summary>Generated storefront traffic as a topic dump: the event contract, one JSON event per line.</summary>
    public static string WriteGeneratedNdjson(string path, int shoppers, int seed = 7)
    {
        var events = StorefrontSimulator.Generate(new SimulationSettings { Shoppers = shoppers, Seed = seed });
        File.WriteAllLines(path, events.Select(e => ContractJson.SerializeEventToString(e.Event)));
        return path;
    }
}
