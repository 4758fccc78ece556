using BenchmarkDotNet.Attributes;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Scoring;
using CartRecovery.Domain.State;

namespace CartRecovery.Benchmarks;

/// <summary>EventParser.Parse: System.Text.Json source-generated deserialization plus validation, on the byte
/// payloads the worker reads from Kafka.</summary>
[MemoryDiagnoser]
public class ParsingBenchmarks
{
    private readonly byte[] _view = ContractJson.SerializeEvent(Samples.View());
    private readonly byte[] _add = ContractJson.SerializeEvent(Samples.Add());
    private readonly byte[] _order = ContractJson.SerializeEvent(Samples.Order());

    [Benchmark(Baseline = true)] public ParseResult ProductViewed() => EventParser.Parse(_view);
    [Benchmark] public ParseResult CartLineAdded() => EventParser.Parse(_add);
    [Benchmark] public ParseResult OrderPlaced() => EventParser.Parse(_order);
}

/// <summary>RiskModel.Score and the explanation (Top factors) the engine computes on every rescore.</summary>
[MemoryDiagnoser]
public class ScoringBenchmarks
{
    private readonly SessionState _session = Samples.ActiveCart().Session;
    private readonly RecoveryPolicy _policy = Samples.Engine.Policy;
    private readonly DateTimeOffset _at = Samples.At + TimeSpan.FromMinutes(10);

    [Benchmark(Baseline = true)] public RiskScore Score() => RiskModel.Score(_session, _at, TimeSpan.FromMinutes(30), _policy.Risk);
    [Benchmark] public int ScoreAndTopFactors() => RiskModel.Score(_session, _at, TimeSpan.FromMinutes(30), _policy.Risk).Top().Length;
}

/// <summary>The decision function on representative states: an event on an active cart, the inactivity deadline
/// (abandonment), a reminder step firing (consent, caps, quiet hours, trigger + audit), an order closing a session.</summary>
[MemoryDiagnoser]
public class DecisionBenchmarks
{
    private readonly RecoveryEngine _engine = Samples.Engine;
    private ShopperState _shopper = null!;
    private SessionState _active = null!;
    private ShopperState _waitingShopper = null!;
    private SessionState _waiting = null!;
    private Deadline _step, _inactivity;
    private ProductViewed _view = null!;
    private OrderPlaced _order = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_shopper, _active) = Samples.ActiveCart();
        _inactivity = _engine.Deadlines(_active).First(d => d.Kind == DeadlineKind.Inactivity);
        (_waitingShopper, _waiting, _step) = Samples.Abandoned();
        _view = Samples.Parse<ProductViewed>(Samples.View(5));
        _order = Samples.Parse<OrderPlaced>(Samples.Order(6));
    }

    [Benchmark(Baseline = true)] public Decision ApplyViewOnActiveCart() => _engine.Apply(_shopper, _active, _view, Samples.Watermark);
    [Benchmark] public Decision ApplyOrderOnActiveCart() => _engine.Apply(_shopper, _active, _order, Samples.Watermark);
    [Benchmark] public Decision FireInactivityAbandon() => _engine.Fire(_shopper, _active, _inactivity);
    [Benchmark] public Decision FireReminderStep() => _engine.Fire(_waitingShopper, _waiting, _step);
    [Benchmark] public int DeadlinesOfActiveCart() => _engine.Deadlines(_active).Length;
}

/// <summary>ClickHouse row encoding: ContractJson.Serialize of output records (the JSONEachRow rows the output writer
/// inserts; the trigger's UTF-8 form is also its Kafka payload).</summary>
[MemoryDiagnoser]
public class RowEncodingBenchmarks
{
    [Benchmark(Baseline = true)] public string TriggerRow() => ContractJson.Serialize(Samples.Trigger);
    [Benchmark] public byte[] TriggerKafkaPayload() => ContractJson.SerializeToUtf8(Samples.Trigger);
    [Benchmark] public string AuditRow() => ContractJson.Serialize(Samples.Audit);
    [Benchmark] public string OutcomeRow() => ContractJson.Serialize(Samples.Outcome);
}
