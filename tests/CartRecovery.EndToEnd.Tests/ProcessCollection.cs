namespace CartRecovery.EndToEnd.Tests;

/// <summary>Tests that start worker processes run one at a time: two chDB engines and several workers at once
/// would overload a 2-core machine and make the runs slow, not wrong.</summary>
[CollectionDefinition("processes", DisableParallelization = true)]
public sealed class ProcessCollection;
