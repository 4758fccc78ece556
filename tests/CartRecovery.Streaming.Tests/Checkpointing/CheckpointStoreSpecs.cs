using Akka.Actor;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Traffic;
using CartRecovery.Streaming.Tests.Support;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>
/// One suite for both checkpoint stores (SQLite embedded, PostgreSQL shared by pods), on the real engines:
/// a partition checkpointed mid-stream and restored in a new incarnation decides exactly like one that never stopped.
/// </summary>
public abstract class CheckpointStoreSpecs(CheckpointStoreSettings store) : TestKit(TestConfig.With(store))
{
    private readonly CheckpointStoreSettings _store = store;
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault());
    private readonly string _group = "specs-" + Guid.NewGuid().ToString("N");

    [Fact]
    public void Restoring_mid_stream_gives_the_outputs_of_an_uninterrupted_run()
    {
        var records = Records(StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 150, Seed = 5 }));
        var half = records.Count / 2;

        var straight = Run(_group + "-straight", [records], restartAfterFirst: false);
        var restored = Run(_group + "-restored", [records[..half], records[half..]], restartAfterFirst: true);

        Assert.NotEmpty(straight);
        Assert.Equal(straight, restored);
    }

    [Fact]
    public void The_newest_checkpoint_wins_and_partitions_are_independent()
    {
        var records = Records(StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 30, Seed = 9 }));
        var zero = Sys.ActorOf(PartitionActor.Props(_group, 0, _engine, new ProbeSink(TestActor)));
        zero.Tell(new ProcessBatch(0, 1, records[..10]));
        ExpectMsg<BatchCompleted>();
        zero.Tell(new Checkpoint(0, 2));
        ExpectMsg<CheckpointSaved>();
        zero.Tell(new ProcessBatch(0, 3, records[10..20]));
        ExpectMsg<BatchCompleted>();
        zero.Tell(new Checkpoint(0, 4));
        var newest = ExpectMsg<CheckpointSaved>().NextOffsets;
        Stop(zero);

        var again = Sys.ActorOf(PartitionActor.Props(_group, 0, _engine, new ProbeSink(TestActor)));
        again.Tell(new RestorePartition(0));
        Assert.Equal(newest, ExpectMsg<PartitionRestored>().NextOffsets);
        var other = Sys.ActorOf(PartitionActor.Props(_group, 1, _engine, new ProbeSink(TestActor)));
        other.Tell(new RestorePartition(1));
        Assert.Empty(ExpectMsg<PartitionRestored>().NextOffsets);
    }

    [Fact]
    public void Restore_after_incremental_checkpoints_equals_restore_after_a_full_one()
    {
        var records = Records(StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 150, Seed = 7 }));
        var cut = records.Count * 2 / 3;
        // A checkpoint after each of eight slices: the first a full snapshot, later ones deltas between snapshots.
        var slices = Enumerable.Range(0, 8).Select(i => records[(cut * i / 8)..(cut * (i + 1) / 8)]).ToList();
        var (incremental, incrementalSaves) = RestoreAndFinish(_group + "-incremental", slices, records[cut..]);
        // One checkpoint at the same point: a full snapshot.
        var (full, fullSaves) = RestoreAndFinish(_group + "-full", [records[..cut]], records[cut..]);

        Assert.Contains(incrementalSaves, saved => saved.Incremental);
        Assert.DoesNotContain(fullSaves, saved => saved.Incremental);
        Assert.NotEmpty(full.Outputs);
        Assert.Equal(full.Restored.NextOffsets, incremental.Restored.NextOffsets);
        Assert.Equal(full.Restored.Sessions, incremental.Restored.Sessions);
        Assert.Equal(full.Outputs, incremental.Outputs);
        // Both restored from checkpoints of the binary format: a snapshot and binary deltas, or one binary snapshot.
        foreach (var group in new[] { _group + "-incremental", _group + "-full" })
        {
            var rows = StoreRows.Of(_store, PersistenceId(group)).Where(row => row.Length > 0).ToList();
            Assert.NotEmpty(rows);
            Assert.All(rows, row => Assert.Equal(CheckpointCodec.BinaryV1, row[0]));
        }
    }

    /// <summary>A store an earlier release wrote (its snapshot and deltas in JSON) restores to the same partition, and the
    /// next checkpoint is written in the binary format.</summary>
    [Fact]
    public void A_store_of_json_checkpoints_from_an_earlier_release_restores_the_same_partition()
    {
        var records = Records(StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 120, Seed = 13 }));
        var cut = records.Count * 2 / 3;
        // A full snapshot, then two small slices: journaled as deltas after it.
        List<List<InputRecord>> slices = [records[..(cut - 20)], records[(cut - 20)..(cut - 10)], records[(cut - 10)..cut]];
        var legacyGroup = _group + "-legacy";
        var (binary, _) = RestoreAndFinish(_group + "-binary", slices, records[cut..]);
        var (legacy, legacySaves) = RestoreAndFinish(legacyGroup, slices, records[cut..], beforeRestore: () =>
            Assert.True(StoreRows.Rewrite(_store, PersistenceId(legacyGroup), bytes => PartitionCheckpoint.ToJsonBytes(PartitionCheckpoint.FromBytes(bytes))) > 1,
                string.Join(",", StoreRows.Of(_store, PersistenceId(legacyGroup)).Select(r => r.Length))));

        Assert.True(legacySaves[^1].Incremental, string.Join(",", legacySaves.Select(s => s.Incremental))); // the JSON store held a delta, not only a snapshot
        Assert.NotEmpty(binary.Outputs);
        Assert.Equal(binary.Restored.NextOffsets, legacy.Restored.NextOffsets);
        Assert.Equal(binary.Restored.Sessions, legacy.Restored.Sessions);
        Assert.Equal(binary.Outputs, legacy.Outputs);
        Assert.All(StoreRows.Of(_store, PersistenceId(legacyGroup)).Where(row => row.Length > 0), row => Assert.Equal((byte)'{', row[0]));

        // The next incarnation's checkpoint is written binary.
        var probe = CreateTestProbe();
        var next = Sys.ActorOf(PartitionActor.Props(legacyGroup, 0, _engine, new ProbeSink(probe.Ref)));
        next.Tell(new RestorePartition(0), probe.Ref);
        probe.ExpectMsg<PartitionRestored>(TimeSpan.FromSeconds(30));
        next.Tell(new ProcessBatch(0, 1, records[cut..(cut + 10)]), probe.Ref);
        probe.ExpectMsg<BatchCompleted>(TimeSpan.FromSeconds(30));
        next.Tell(new Checkpoint(0, 2), probe.Ref);
        probe.ExpectMsg<CheckpointSaved>(TimeSpan.FromSeconds(30));
        Assert.Contains(StoreRows.Of(_store, PersistenceId(legacyGroup)), row => row.Length > 0 && row[0] == CheckpointCodec.BinaryV1);
    }

    /// <summary>A checkpoint row damaged in the store (here cut in half): the restore fails, and the partition reports
    /// the format error as its cause (the worker stops with it) instead of restoring something else or hanging.</summary>
    [Fact]
    public void A_damaged_checkpoint_row_fails_the_restore_with_the_format_error_as_its_cause()
    {
        var group = _group + "-damaged";
        var records = Records(StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 20, Seed = 3 }));
        var probe = CreateTestProbe();
        var partition = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(probe.Ref)));
        partition.Tell(new ProcessBatch(0, 1, records), probe.Ref);
        probe.ExpectMsg<BatchCompleted>(TimeSpan.FromSeconds(30));
        partition.Tell(new Checkpoint(0, 2), probe.Ref);
        probe.ExpectMsg<CheckpointSaved>(TimeSpan.FromSeconds(30));
        Stop(partition);
        Assert.True(StoreRows.Rewrite(_store, PersistenceId(group), bytes => bytes[..(bytes.Length / 2)]) > 0);

        var restored = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(probe.Ref)));
        restored.Tell(new RestorePartition(0), probe.Ref);

        var failure = probe.ExpectMsg<Exception>(TimeSpan.FromSeconds(30));
        var cause = Assert.IsType<CheckpointFormatException>(failure.InnerException);
        Assert.Contains("binary checkpoint", cause.Message);
    }

    private static string PersistenceId(string group) => $"cartrecovery/{group}/partition-0";

    /// <summary>A rebalance while the former owner is still saving (a stop past its timeout, say): the new owner's
    /// takeover fences the partition's checkpoint, so the former owner's later save fails on the journal's unique key
    /// and what is restored next is the new owner's checkpoint, whatever the kind of the former owner's save.</summary>
    [Theory]
    [InlineData(1)] // its next save would be a full snapshot (the first checkpoint of an incarnation is one)
    [InlineData(2)] // its next save would be a delta
    public void A_former_owner_still_saving_fails_and_never_overwrites_the_new_owner_s_checkpoint(int savesBeforeTakeover)
    {
        var group = _group + "-fence-" + savesBeforeTakeover;
        var records = Records(StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 40, Seed = 11 }));
        var slice = records.Count / 4;
        var formerProbe = CreateTestProbe();
        var former = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(formerProbe.Ref)));
        former.Tell(new RestorePartition(0), formerProbe.Ref);
        formerProbe.ExpectMsg<PartitionRestored>();
        long sequence = 0;
        for (var i = 0; i < savesBeforeTakeover; i++)
        {
            former.Tell(new ProcessBatch(0, ++sequence, records[(i * slice / 2)..((i + 1) * slice / 2)]), formerProbe.Ref);
            formerProbe.ExpectMsg<BatchCompleted>();
            former.Tell(new Checkpoint(0, ++sequence), formerProbe.Ref);
            formerProbe.ExpectMsg<CheckpointSaved>();
        }

        var ownerProbe = CreateTestProbe();
        var owner = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(ownerProbe.Ref)));
        owner.Tell(new RestorePartition(0), ownerProbe.Ref);
        var taken = ownerProbe.ExpectMsg<PartitionRestored>();

        // The former owner has not heard of the rebalance: it decides more and saves.
        former.Tell(new ProcessBatch(0, ++sequence, records[slice..(2 * slice)]), formerProbe.Ref);
        formerProbe.ExpectMsg<BatchCompleted>();
        former.Tell(new Checkpoint(0, ++sequence), formerProbe.Ref);
        formerProbe.ExpectMsg<Exception>();
        formerProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // The new owner goes on from what it restored and saves.
        owner.Tell(new ProcessBatch(0, 1, records[(2 * slice)..(3 * slice)]), ownerProbe.Ref);
        ownerProbe.ExpectMsg<BatchCompleted>();
        owner.Tell(new Checkpoint(0, 2), ownerProbe.Ref);
        var saved = ownerProbe.ExpectMsg<CheckpointSaved>();
        Assert.NotEqual(taken.NextOffsets, saved.NextOffsets);
        Stop(owner);

        var next = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        next.Tell(new RestorePartition(0));
        Assert.Equal(saved.NextOffsets, ExpectMsg<PartitionRestored>().NextOffsets);
    }

    /// <summary>Processes <paramref name="slices"/> with a checkpoint after each, restores the partition in a new
    /// incarnation, then processes <paramref name="rest"/> and drains: what it restored, and the outputs after it.</summary>
    private ((PartitionRestored Restored, List<string> Outputs), List<CheckpointSaved> Saves) RestoreAndFinish(string group,
        IReadOnlyList<List<InputRecord>> slices, List<InputRecord> rest, Action? beforeRestore = null)
    {
        var probe = CreateTestProbe();
        var partition = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(probe.Ref)));
        var saves = new List<CheckpointSaved>();
        long sequence = 0;
        foreach (var slice in slices)
        {
            partition.Tell(new ProcessBatch(0, ++sequence, slice), probe.Ref);
            probe.ExpectMsg<BatchCompleted>(TimeSpan.FromSeconds(30));
            partition.Tell(new Checkpoint(0, ++sequence), probe.Ref);
            saves.Add(probe.ExpectMsg<CheckpointSaved>(TimeSpan.FromSeconds(30)));
        }
        Stop(partition);
        beforeRestore?.Invoke();

        partition = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(probe.Ref)));
        partition.Tell(new RestorePartition(0), probe.Ref);
        var restored = probe.ExpectMsg<PartitionRestored>(TimeSpan.FromSeconds(30));
        var outputs = new List<string>();
        partition.Tell(new ProcessBatch(0, ++sequence, rest), probe.Ref);
        Collect(probe.ExpectMsg<BatchCompleted>(TimeSpan.FromSeconds(30)), outputs);
        partition.Tell(new Drain(0, ++sequence), probe.Ref);
        Collect(probe.ExpectMsg<BatchCompleted>(TimeSpan.FromSeconds(30)), outputs);
        outputs.Sort(StringComparer.Ordinal);
        return ((restored, outputs), saves);
    }

    private List<string> Run(string group, IReadOnlyList<List<InputRecord>> segments, bool restartAfterFirst)
    {
        var outputs = new List<string>();
        var probe = CreateTestProbe();
        var partition = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(probe.Ref)));
        long sequence = 0;
        for (var i = 0; i < segments.Count; i++)
        {
            partition.Tell(new ProcessBatch(0, ++sequence, segments[i]), probe.Ref);
            Collect(probe.ExpectMsg<BatchCompleted>(TimeSpan.FromSeconds(30)), outputs);
            if (restartAfterFirst && i == 0)
            {
                partition.Tell(new Checkpoint(0, ++sequence), probe.Ref);
                probe.ExpectMsg<CheckpointSaved>(TimeSpan.FromSeconds(30));
                Stop(partition);
                partition = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(probe.Ref)));
                partition.Tell(new RestorePartition(0), probe.Ref);
                probe.ExpectMsg<PartitionRestored>(TimeSpan.FromSeconds(30));
            }
        }
        partition.Tell(new Drain(0, ++sequence), probe.Ref);
        Collect(probe.ExpectMsg<BatchCompleted>(TimeSpan.FromSeconds(30)), outputs);
        outputs.Sort(StringComparer.Ordinal);
        return outputs;
    }

    private void Stop(IActorRef actor)
    {
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor);
    }

    private static void Collect(BatchCompleted batch, List<string> into)
    {
        into.AddRange(batch.Triggers.Select(ContractJson.Serialize));
        into.AddRange(batch.Audits.Select(ContractJson.Serialize));
        into.AddRange(batch.Outcomes.Select(ContractJson.Serialize));
        // Profiles live in the shopper's state: a restore that lost or garbled them would show in these rows.
        into.AddRange((batch.Profiles ?? []).Select(ContractJson.Serialize));
        into.AddRange((batch.OutcomeRows ?? []).Select(ContractJson.Serialize));
    }

    private static List<InputRecord> Records(IEnumerable<GeneratedEvent> events)
    {
        var offsets = new Dictionary<string, long>();
        return [.. events.Select(e =>
        {
            var offset = offsets.GetValueOrDefault(e.Topic);
            offsets[e.Topic] = offset + 1;
            return new InputRecord(e.Topic, 0, offset, e.Event, null);
        })];
    }
}

public sealed class SqliteCheckpointStoreSpecs()
    : CheckpointStoreSpecs(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-checkpoints-{Guid.NewGuid():N}.db")));

/// <summary>Against the PostgreSQL server test.sh starts (scripts/start-postgres.sh); CARTRECOVERY_TEST_POSTGRES names it.</summary>
public sealed class PostgreSqlCheckpointStoreSpecs()
    : CheckpointStoreSpecs(CheckpointStoreSettings.PostgreSql(PostgresServer.ConnectionString));

public static class PostgresServer
{
    public const string Variable = "CARTRECOVERY_TEST_POSTGRES";

    public static string ConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{Variable} is not set: run the tests through ./test.sh, which starts a PostgreSQL server (scripts/start-postgres.sh)");
}

/// <summary>Actor tests on a shared 2-core machine: generous expectation timeouts (first use creates the store's tables).</summary>
public static class TestConfig
{
    public static Akka.Configuration.Config With(CheckpointStoreSettings store) =>
        Akka.Configuration.ConfigurationFactory.ParseString("akka.test.single-expect-default = 20s").WithFallback(store.ToAkkaConfig());
}
