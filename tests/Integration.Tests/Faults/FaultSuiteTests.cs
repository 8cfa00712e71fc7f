using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Store;
using Microsoft.Data.Sqlite;
using RabbitMQ.Client;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>
/// Thousands of predict jobs submitted at a steady pace while, one after another, a worker is killed mid-batch, the
/// broker goes away, the store is locked and poison messages arrive. Every job whose submit returned must end exactly
/// once in a final state.
/// </summary>
[Trait("Category", "Faults")]
public sealed partial class FaultSuiteTests(FaultSystem system, ITestOutputHelper output) : IClassFixture<FaultSystem>
{
    private const int JobsPerWave = 25;
    private static readonly TimeSpan WaveInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan BrokerOutage = TimeSpan.FromSeconds(8);
    // Longer than the embedded store's 30 s busy timeout, so that workers' writes fail instead of only waiting.
    private static readonly TimeSpan StoreOutage = TimeSpan.FromSeconds(35);
    private static readonly TimeSpan LongestStoreOutage = TimeSpan.FromSeconds(70);
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();

    [Fact]
    public async Task EveryJobEndsExactlyOnceThroughAWorkerCrashABrokerOutageAStoreOutageAndPoisonMessages()
    {
        var ct = TestTimeout.After(170);
        var (_, onnx) = TestModels.Classifier(seed: 51, hidden: [128, 128]);
        var model = TestModels.UniqueName("faults");
        await system.Client.RegisterModelAsync(model, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 16, MaxQueueDelayMilliseconds = 10 }, cancellationToken: ct);
        await using var writes = await ResultWriteRecorder.StartAsync(system.Broker.Uri, ct);
        using var database = new SqliteDatabase(system.StorePath);
        var store = new SqliteJobStore(database);
        var load = new SteadyLoad(system.Client, model, JobsPerWave, WaveInterval);
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var loading = load.RunAsync(stopLoad.Token);
        var faults = 0;

        // 1. A worker dies by SIGKILL in the middle of its work: a burst puts a backlog in the broker, and while jobs
        //    wait there every consumer's prefetch window is full, so the victim holds a full prefetch of unacknowledged
        //    jobs, some of them in the batch it is running. The broker must hand them to the other two.
        await WaitForFinalAsync(store, load, 400, ct);
        var victim = system.Workers[0];
        var bursts = new List<Task>();
        do
        {
            bursts.Add(load.BurstAsync(1000));
        }
        while (!await BacklogAppearsAsync(bursts[^1], ct));

        var final = (await StoredJobs.FinalAsync(store, load.Submitted, ct)).Count;
        victim.Crash();
        await Task.WhenAll(bursts);
        faults++;
        Log($"fault {faults}: SIGKILL worker-1 (pid {victim.ProcessId}) with {final} of {load.Submitted.Count} jobs final");

        // 2. The broker goes away for every process (connections dropped, port refusing) and comes back.
        await WaitForFinalAsync(store, load, final + 400, ct);
        await system.Proxy.OutageAsync(BrokerOutage, ct);
        faults++;
        Log($"fault {faults}: broker unreachable for {BrokerOutage.TotalSeconds} s; submits failed visibly so far: {load.FailedVisibly.Count}");

        // 3. The store is locked for writing (another process holds SQLite's write lock): no acknowledgement may reach
        //    the broker while results cannot be stored, and work resumes when the lock is released. It is locked only
        //    once jobs submitted after the outage are being finished: the backlog alone can be drained before the
        //    client's publisher is back, and then no worker would write while the store is locked.
        var afterOutage = load.Submitted.Count;
        await StoredJobs.WaitUntilAsync(async () =>
            (await StoredJobs.FinalAsync(store, [.. load.Submitted.Skip(afterOutage)], ct)).Count >= 200, ct);
        var (acknowledged, acknowledgedWithoutResult, finalBefore, finalDuring, locked) = await LockStoreAsync(store, load, ct);
        faults++;
        Log($"fault {faults}: store write-locked for {locked.TotalSeconds:0.0} s: {acknowledged} job messages acknowledged meanwhile, " +
            $"{acknowledgedWithoutResult} of them without a stored result; final jobs {finalBefore} → {finalDuring}");
        Assert.Equal(0, acknowledgedWithoutResult);
        Assert.Equal(finalBefore, finalDuring);
        var failedWrites = FailedStoreWrites();
        Log($"store writes that failed and were retried with the results held: {failedWrites}");
        Assert.True(failedWrites > 0, $"No write failed in {locked.TotalSeconds:0} s of lock: the store's busy timeout is 30 s.");
        await WaitForFinalAsync(store, load, finalDuring + 200, ct);

        // 4. Poison: each fails its own job with a reason, or lands in the error queue with the reason; none is retried
        //    for ever and no worker dies of it.
        var poison = new Dictionary<Guid, string>
        {
            [await SubmitAsync(new PredictRequest { Model = "no-such-model", Features = [1, 2, 3, 4] }, ct)] = "no-such-model",
            [await SubmitAsync(new PredictRequest { Model = model, Features = [1, 2, 3] }, ct)] = "has 3 values",
            [await SubmitAsync(new PredictRequest { Model = model, Features = [1, float.NaN, 3, 4] }, ct)] = "non-finite",
            // Above Workers:MaxInputValues (1,000,000) yet under the broker's 16 MiB message bound (about 11 MB of JSON): the
            // worker refuses it. A message above the bound never reaches a worker (MessageSizeTests).
            [await SubmitAsync(new PredictRequest { Model = model, Features = new float[1_200_000] }, ct)] = "has 1200000 input values; at most",
        };
        faults += poison.Count;
        var malformedReason = await PublishMalformedAndReadItsFaultAsync(ct);
        faults++;
        Log($"poison: malformed JSON went to predict-jobs_error with MT-Fault-Message \"{malformedReason}\"");
        Assert.False(string.IsNullOrWhiteSpace(malformedReason));

        await stopLoad.CancelAsync();
        await loading;
        var submitted = load.Submitted.Concat(poison.Keys).ToList();
        var jobs = await StoredJobs.DrainAsync(store, submitted, ct);
        foreach (var (id, reason) in poison)
        {
            var job = jobs[id];
            Log($"poison {reason}: {job.Status}: {Shorten(job.Error)}");
            Assert.Equal(JobStatus.Failed, job.Status);
            Assert.Contains(reason, job.Error, StringComparison.Ordinal);
        }

        // Duplicated, measured from the result writes the workers announced (see ResultWriteRecorder.Duplicates).
        var (duplicated, heard) = writes.Duplicates(jobs.Values, Log);

        // Jobs a second worker ran too (redelivered while the first still held them) and whose result it did not write.
        var secondRunsDropped = system.Workers.Sum(w => SecondRunsDropped().Matches(w.Output).Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
        var lost = submitted.Count - jobs.Count;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"faults: submitted={submitted.Count} faults={faults} completed={jobs.Count} lost={lost} duplicated={duplicated} elapsed={_elapsed.Elapsed.TotalSeconds:0.0}s " +
            $"(submits failed visibly during the outage: {load.FailedVisibly.Count}; result writes heard for {heard} jobs; " +
            $"acknowledgements matched to jobs: {system.Proxy.AcknowledgedCount}; second runs not written: {secondRunsDropped})");
        Log(line);
        Console.WriteLine(line);

        Assert.Equal(0, lost);
        Assert.Equal(0, duplicated);
        Assert.True(system.Proxy.AcknowledgedCount >= jobs.Count * 0.9,
            $"The proxy matched only {system.Proxy.AcknowledgedCount} acknowledgements to job messages: the store-outage check would be blind.");
        Assert.True(heard >= jobs.Count * 0.9, $"Result writes were heard for only {heard} of {jobs.Count} jobs: the duplicate measure would be blind.");
        Assert.True(load.Submitted.Count >= 2000, $"Only {load.Submitted.Count} jobs were submitted.");
        Assert.All(system.Workers.Skip(1), w => Assert.False(w.HasExited, w.Output));
        Assert.Equal(3, jobs.Values.Where(j => j.WorkerId is not null).Select(j => j.WorkerId).Distinct().Count());
    }

    private async Task<Guid> SubmitAsync(PredictRequest request, CancellationToken ct) => await system.Client.SubmitPredictAsync(request, ct);

    /// <summary>Holds SQLite's write lock on a connection of its own, as another process would (WAL readers go on), and
    /// returns how many job messages were acknowledged meanwhile, and how many of those had no final result stored.
    /// Acknowledging a redelivery of a job already finished is right; acknowledging any other job is a lost job.</summary>
    private async Task<(int Acknowledged, int WithoutResult, int FinalBefore, int FinalDuring, TimeSpan Locked)> LockStoreAsync(
        IJobStore store, SteadyLoad load, CancellationToken ct)
    {
        var failedBefore = FailedStoreWrites();
        await using var connection = new SqliteConnection($"Data Source={system.StorePath}");
        await connection.OpenAsync(ct);
        await using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN EXCLUSIVE";
        await begin.ExecuteNonQueryAsync(ct);
        var mark = system.Proxy.AcknowledgedCount;
        var finalBefore = (await StoredJobs.FinalAsync(store, load.Submitted, ct)).Count;
        var locked = Stopwatch.StartNew();

        // At least the outage, and on until a worker's write has failed: the first write may begin a few seconds into
        // the lock (a worker between batches) and then waits out the whole busy timeout.
        await Task.Delay(StoreOutage, ct);
        while (FailedStoreWrites() == failedBefore && locked.Elapsed < LongestStoreOutage)
        {
            await Task.Delay(250, ct);
        }

        var acknowledged = system.Proxy.AcknowledgedSince(mark).Select(Guid.Parse).ToHashSet();
        var withResult = (await StoredJobs.FinalAsync(store, acknowledged, ct)).Count;
        var finalDuring = (await StoredJobs.FinalAsync(store, load.Submitted, ct)).Count;

        await using var rollback = connection.CreateCommand();
        rollback.CommandText = "ROLLBACK";
        await rollback.ExecuteNonQueryAsync(ct);
        return (acknowledged.Count, acknowledged.Count - withResult, finalBefore, finalDuring, locked.Elapsed);
    }

    private int FailedStoreWrites() => system.Workers.Sum(w => StoreWriteFailures().Count(w.Output));

    /// <summary>Publishes a body that is not JSON, with a plain AMQP client, and returns the reason MassTransit recorded
    /// when it moved the message to the error queue.</summary>
    private async Task<string> PublishMalformedAndReadItsFaultAsync(CancellationToken ct)
    {
        var factory = new ConnectionFactory { Uri = system.Broker.Uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        var messageId = Guid.NewGuid().ToString();
        await using (var publisher = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true,
            publisherConfirmationTrackingEnabled: true), ct))
        {
            var properties = new BasicProperties
            {
                ContentType = "application/vnd.masstransit+json",
                DeliveryMode = DeliveryModes.Persistent,
                MessageId = messageId,
            };
            await publisher.BasicPublishAsync("AIaaS.Queue.Contracts:SubmitPredictJob", "", mandatory: true, properties,
                Encoding.UTF8.GetBytes("{\"messageId\":\"" + messageId + "\",\"message\":{\"jobId\":"), ct);
        }

        while (true)
        {
            // A channel of its own each time: reading a queue that does not exist yet (MassTransit creates the error
            // queue with its first fault) closes the channel.
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            try
            {
                while (await channel.BasicGetAsync("predict-jobs_error", autoAck: false, ct) is { } fault)
                {
                    if (fault.BasicProperties.MessageId == messageId)
                    {
                        var headers = fault.BasicProperties.Headers!;
                        return headers.TryGetValue("MT-Fault-Message", out var reason) && reason is byte[] bytes ? Encoding.UTF8.GetString(bytes) : "";
                    }
                }
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>True once jobs wait in the broker while <paramref name="burst"/> is submitted; false if the workers kept up.</summary>
    private async Task<bool> BacklogAppearsAsync(Task burst, CancellationToken ct)
    {
        while (await system.Broker.GetReadyCountAsync("predict-jobs", ct) == 0)
        {
            if (burst.IsCompleted)
            {
                return false;
            }

            await Task.Delay(50, ct);
        }

        return true;
    }

    private async Task WaitForFinalAsync(IJobStore store, SteadyLoad load, int count, CancellationToken ct)
    {
        try
        {
            await StoredJobs.WaitUntilAsync(async () => (await StoredJobs.FinalAsync(store, load.Submitted, ct)).Count >= count, ct);
        }
        catch (OperationCanceledException)
        {
            var final = (await StoredJobs.FinalAsync(store, load.Submitted, CancellationToken.None)).Count;
            var queue = await system.Broker.GetQueueAsync("predict-jobs", CancellationToken.None);
            Log($"stalled: {final} of {load.Submitted.Count} submitted jobs final, waiting for {count}; {load.FailedVisibly.Count} submits failed visibly; " +
                $"predict-jobs: {queue.Consumers} consumers, {queue.MessagesReady} ready, {queue.MessagesUnacknowledged} unacknowledged");
            foreach (var worker in system.Workers)
            {
                Log("--- worker output (end):\n" + worker.Output[^Math.Min(worker.Output.Length, 4000)..]);
            }

            throw;
        }
    }

    [GeneratedRegex("Store unavailable: holding")]
    private static partial Regex StoreWriteFailures();

    [GeneratedRegex(@"(\d+) jobs of batch \S+ were already finished elsewhere")]
    private static partial Regex SecondRunsDropped();

    private void Log(string message) => output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_elapsed.Elapsed.TotalSeconds:0.0}s] {message}"));

    private static string? Shorten(string? text) => text is { Length: > 160 } ? text[..160] + "…" : text;
}
