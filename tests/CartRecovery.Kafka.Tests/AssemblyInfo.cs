using Xunit;

// Every test starts its own mock cluster and several librdkafka clients (each with its own threads).
// On a 2-core CI machine running them one at a time is what keeps them fast and deterministic.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
