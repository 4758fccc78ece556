using System.Globalization;

namespace CartRecovery.Storage;

/// <summary>
/// The bounds of every analyst query (the <c>query</c> command and the analyst path of either engine), section
/// <c>Query</c> of the configuration: a query past one of them is stopped by the engine
/// (<c>TIMEOUT_EXCEEDED</c>, <c>MEMORY_LIMIT_EXCEEDED</c>, <c>TOO_MANY_ROWS_OR_BYTES</c>) and the error names the limit.
/// </summary>
public sealed record AnalystLimits
{
    /// <summary>Wall time of one query (ClickHouse <c>max_execution_time</c>); default 60 s.</summary>
    public TimeSpan MaxExecutionTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Memory of one query (<c>max_memory_usage</c>); default 2 GiB.</summary>
    public long MaxMemoryBytes { get; init; } = 2L << 30;

    /// <summary>Size of one result, uncompressed (<c>max_result_bytes</c>); default 256 MiB.</summary>
    public long MaxResultBytes { get; init; } = 256L << 20;

    public static AnalystLimits Default { get; } = new();

    /// <summary>The ClickHouse settings that enforce the limits, plus <c>allow_introspection_functions = 0</c>; the same on
    /// chDB (set on the read-only session) and on a server (sent with every analyst query).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings() =>
    [
        new("max_execution_time", MaxExecutionTime.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)),
        new("timeout_overflow_mode", "'throw'"),
        new("max_memory_usage", MaxMemoryBytes.ToString(CultureInfo.InvariantCulture)),
        new("max_result_bytes", MaxResultBytes.ToString(CultureInfo.InvariantCulture)),
        new("result_overflow_mode", "'throw'"),
        new("allow_introspection_functions", "0"),
    ];

    /// <summary>Throws <see cref="ArgumentException"/> naming the configuration key of a limit that is not positive.</summary>
    public AnalystLimits Validated()
    {
        if (MaxExecutionTime <= TimeSpan.Zero) throw new ArgumentException($"Query:MaxExecutionSeconds must be positive ({MaxExecutionTime.TotalSeconds})");
        if (MaxMemoryBytes <= 0) throw new ArgumentException($"Query:MaxMemoryBytes must be positive ({MaxMemoryBytes})");
        if (MaxResultBytes <= 0) throw new ArgumentException($"Query:MaxResultBytes must be positive ({MaxResultBytes})");
        return this;
    }

    /// <summary><paramref name="e"/> with the limit that stopped the query named, or <paramref name="e"/> itself when no limit did.</summary>
    public ClickHouseQueryException Explain(ClickHouseQueryException e)
    {
        var limit = e.Code switch
        {
            159 => $"the analyst time limit stopped this query after {MaxExecutionTime.TotalSeconds:0.###} s (Query:MaxExecutionSeconds)",
            241 => $"the analyst memory limit stopped this query at {MaxMemoryBytes} bytes (Query:MaxMemoryBytes)",
            396 => $"the analyst result limit stopped this query at {MaxResultBytes} bytes of result (Query:MaxResultBytes)",
            _ => null,
        };
        return limit is null ? e : new ClickHouseQueryException($"{limit}; narrow it (a time range, a LIMIT) or raise the limit. Engine: {e.EngineMessage}",
            e.SqlHead, e, e.Code);
    }
}
