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

/// <summary>The rows of one flush, from decided records to the bytes of the insert statement (the engine's own call
/// excluded): 1,000 each of triggers, audit rows, outcomes and profiles. <see cref="StringRows"/> is the session-10
/// path, kept here as the baseline: a string per row (a trigger's Kafka JSON decoded into one), then encoded into the
/// statement. <see cref="PooledUtf8Rows"/> is the writer's path since session 11: each row serialised once as UTF-8
/// into a pooled <see cref="Storage.JsonEachRowBuffer"/> (a trigger's Kafka JSON copied in as it is), then copied
/// behind the INSERT line. Divide by 4,000 for bytes per row.</summary>
[MemoryDiagnoser]
public class RowsOfAFlushBenchmarks
{
    private const int Each = 1_000;
    private static readonly byte[] Prefix = System.Text.Encoding.UTF8.GetBytes("INSERT INTO `default`.`t` SETTINGS x = 1 FORMAT JSONEachRow\n");
    private readonly byte[][] _triggerPayloads = [.. Enumerable.Range(0, Each).Select(i => ContractJson.SerializeToUtf8(Samples.Trigger with { TriggerId = $"t-{i}" }))];
    private readonly AuditRecord[] _audits = [.. Enumerable.Range(0, Each).Select(i => Samples.Audit with { AuditId = $"a-{i}" })];
    private readonly SessionOutcome[] _outcomes = [.. Enumerable.Range(0, Each).Select(i => Samples.Outcome with { SessionId = $"s-{i}" })];
    private readonly ShopperProfileRow[] _profiles = [.. Enumerable.Range(0, Each).Select(i => new ShopperProfileRow
        { ShopperId = $"shopper-{i}", Segment = "returning", ChurnRisk = 0.25, UpdatedAt = Samples.At, TopCategories = ["lamps"] })];

    [Benchmark(Baseline = true)]
    public int StringRows() =>
        Statement([.. _triggerPayloads.Select(p => System.Text.Encoding.UTF8.GetString(p))]) +
        Statement([.. _audits.Select(ContractJson.Serialize)]) +
        Statement([.. _outcomes.Select(ContractJson.Serialize)]) +
        Statement([.. _profiles.Select(ContractJson.Serialize)]);

    [Benchmark]
    public int PooledUtf8Rows()
    {
        var size = 0;
        using (var triggers = new Storage.JsonEachRowBuffer())
        {
            foreach (var payload in _triggerPayloads) triggers.AppendRow(payload);
            size += Statement(triggers.Rows.Span);
        }
        size += Rows(_audits, ContractJson.Serialize) + Rows(_outcomes, ContractJson.Serialize) + Rows(_profiles, ContractJson.Serialize);
        return size;
    }

    private static int Rows<T>(T[] rows, Action<System.Text.Json.Utf8JsonWriter, T> serialize)
    {
        using var buffer = new Storage.JsonEachRowBuffer();
        using var json = new System.Text.Json.Utf8JsonWriter(buffer.Writer, ContractJson.RowWriterOptions);
        foreach (var row in rows)
        {
            serialize(json, row);
            json.Reset();
            buffer.EndRow();
        }
        return Statement(buffer.Rows.Span);
    }

    // What ChDbAnalyticsStore did with string rows (session 10): count, rent, encode each row behind the INSERT line.
    private static int Statement(List<string> rows)
    {
        var size = Prefix.Length + rows.Sum(r => System.Text.Encoding.UTF8.GetByteCount(r) + 1);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
        Prefix.CopyTo(buffer, 0);
        var at = Prefix.Length;
        foreach (var row in rows)
        {
            at += System.Text.Encoding.UTF8.GetBytes(row, buffer.AsSpan(at));
            buffer[at++] = (byte)'\n';
        }
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        return at;
    }

    // What ChDbAnalyticsStore does with UTF-8 rows (session 11): the bytes copied as they are behind the INSERT line.
    private static int Statement(ReadOnlySpan<byte> rows)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Prefix.Length + rows.Length + 1);
        Prefix.CopyTo(buffer, 0);
        rows.CopyTo(buffer.AsSpan(Prefix.Length));
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        return Prefix.Length + rows.Length;
    }
}
