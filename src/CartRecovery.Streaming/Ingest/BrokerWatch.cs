using CartRecovery.Contracts;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace CartRecovery.Streaming.Ingest;

/// <summary>
/// Whether the worker's Kafka clients reach a broker, from the errors librdkafka reports (all brokers down, transport
/// failures) until a probe reaches one again. librdkafka retries forever on its own, so without this a drain whose
/// broker died never ended and a live worker logged every reconnect attempt (19 lines a second): here the errors are
/// logged at most once per <see cref="LogEvery"/> with a count, the outage turns the worker not-ready, and past
/// <see cref="WorkerSettings.BrokerPatience"/> the worker fails with the cause (<see cref="Expired"/>).
/// </summary>
public sealed class BrokerWatch : IDisposable
{
    public static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ProbeEvery = TimeSpan.FromSeconds(1);

    private readonly WorkerSettings _settings;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly object _gate = new();
    private readonly Timer _timer;
    private IAdminClient? _probe;
    // UTC ticks since when no broker was reachable; 0 while one is (read on every consumed record, so without a lock).
    private long _downSinceTicks;
    private string _lastError = "";
    private DateTimeOffset _loggedAt = DateTimeOffset.MinValue;
    private long _unlogged;
    private int _probing;
    private bool _disposed;

    public BrokerWatch(WorkerSettings settings, ILogger<BrokerWatch> logger, TimeProvider clock)
    {
        _settings = settings;
        _logger = logger;
        _clock = clock;
        _timer = new Timer(_ => Probe(), null, ProbeEvery, ProbeEvery);
    }

    /// <summary>Called once when the broker has been unreachable for longer than the patience.</summary>
    public event Action<WorkerFailedException>? Expired;

    /// <summary>Since when no broker was reachable; null while one is.</summary>
    public DateTimeOffset? DownSince => Volatile.Read(ref _downSinceTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    public bool IsDown => Volatile.Read(ref _downSinceTicks) != 0;

    /// <summary>librdkafka's own log lines (its default writes every failed reconnect to stderr): warnings and worse
    /// under the same rate limit as the errors, the rest dropped.</summary>
    public void Log(string client, LogMessage message)
    {
        if (message.Level > SyslogLevel.Warning) return;
        Error(client, new Error(ErrorCode.Local_Transport, $"{message.Facility}: {message.Message}"), countsAsOutage: false);
    }

    /// <summary>An error a Kafka client of the worker reported (its error handler).</summary>
    public void Error(string client, Error error) => Error(client, error, countsAsOutage: true);

    private void Error(string client, Error error, bool countsAsOutage)
    {
        var now = _clock.GetUtcNow();
        bool log;
        long suppressed;
        lock (_gate)
        {
            if (countsAsOutage && IsBrokerDown(error.Code))
            {
                if (_downSinceTicks == 0) Volatile.Write(ref _downSinceTicks, now.UtcTicks);
                _lastError = $"{error.Code}: {error.Reason}";
            }
            log = now - _loggedAt >= LogEvery;
            suppressed = _unlogged;
            if (log)
            {
                _loggedAt = now;
                _unlogged = 0;
            }
            else _unlogged++;
        }
        if (!log) return;
        var since = DownSince is { } down ? $"; no broker reachable for {(now - down).TotalSeconds:F0} s of a patience of {_settings.BrokerPatience.TotalSeconds:F0} s" : "";
        _logger.LogWarning("kafka {Client}: {Code} {Reason}{Since} ({Suppressed} more errors since the last line)", client, error.Code, error.Reason, since, suppressed);
    }

    /// <summary>A broker answered (a record or a partition end was fetched, a probe succeeded).</summary>
    public void Reachable()
    {
        if (!IsDown) return;
        DateTimeOffset? was;
        lock (_gate)
        {
            was = DownSince;
            Volatile.Write(ref _downSinceTicks, 0);
        }
        if (was is { } since)
            _logger.LogInformation("kafka: a broker is reachable again after {Seconds:F0} s", (_clock.GetUtcNow() - since).TotalSeconds);
    }

    private static bool IsBrokerDown(ErrorCode code) =>
        code is ErrorCode.Local_AllBrokersDown or ErrorCode.Local_Transport or ErrorCode.Local_Resolve or ErrorCode.Local_TimedOut or ErrorCode.BrokerNotAvailable;

    /// <summary>While no broker is reachable: ask the cluster for metadata (librdkafka reports failures, never
    /// recoveries), and fail the worker once the outage outlasts the patience.</summary>
    private void Probe()
    {
        if (DownSince is not { } since || Interlocked.Exchange(ref _probing, 1) == 1) return;
        try
        {
            if (_clock.GetUtcNow() - since > _settings.BrokerPatience)
            {
                string last;
                lock (_gate)
                {
                    if (_disposed) return;
                    last = _lastError;
                    _disposed = true; // expires once
                }
                _timer.Change(Timeout.Infinite, Timeout.Infinite);
                var cause = new WorkerFailedException($"no Kafka broker reachable at {_settings.BootstrapServers} for {_settings.BrokerPatience.TotalSeconds:F0} s " +
                    $"(Worker:BrokerPatience; last error {last})");
                _logger.LogError("{Cause}", cause.Message);
                Expired?.Invoke(cause);
                return;
            }
            _probe ??= new AdminClientBuilder(WorkerKafkaConfig.Admin(_settings)).SetLogHandler((_, m) => Log("probe", m)).Build();
            var metadata = _probe.GetMetadata(Topics.Inputs[0], TimeSpan.FromSeconds(1));
            if (metadata.Brokers.Count > 0 && metadata.Topics.All(t => !t.Error.IsError || t.Error.Code != ErrorCode.Local_TimedOut)) Reachable();
        }
        catch (KafkaException)
        {
            // Still unreachable.
        }
        finally
        {
            Interlocked.Exchange(ref _probing, 0);
        }
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        _timer.Dispose();
        // Disposing an admin client whose broker is gone can wait for its requests: not on the way out.
        if (_probe is { } probe) _ = Task.Run(probe.Dispose);
    }
}
