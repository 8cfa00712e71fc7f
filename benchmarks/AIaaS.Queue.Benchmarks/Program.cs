using System.Diagnostics;
using System.Globalization;
using AIaaS.Queue.Benchmarks;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.TestSupport;
using Microsoft.ML.OnnxRuntime;

// The system against its ceilings, every figure a ratio taken side by side in one run (the machine is shared and
// noisy). Workers and the ResultApi run as separate processes on a real RabbitMQ broker (a virtual host of its own).
// Usage: dotnet run -c Release --project benchmarks/AIaaS.Queue.Benchmarks [-- --quick] [-- --text-encoder-only] [-- --text-only]
//        [-- --explain-only]
var quick = args.Contains("--quick");
var explainOnly = args.Contains("--explain-only");
var textEncoderOnly = args.Contains("--text-encoder-only");
var textOnly = args.Contains("--text-only");
var jobs = quick ? 600 : 3000;
var rounds = quick ? 1 : 2;
using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(15));
var ct = deadline.Token;
var report = new Report();

var small = MlpModel.CreateRandom(4, [32, 32], 3, Activation.Relu, OutputActivation.Softmax, seed: 7);
var big = MlpModel.CreateRandom(32, [512, 512, 512], 10, Activation.Relu, OutputActivation.Softmax, seed: 1);
// At the top of the suggested range: one record costs enough that the unbatched run is bound by the model, not by the
// per-job path (figure 2), so the ratio shows what batching does to the model.
var bigger = MlpModel.CreateRandom(32, [1024, 1024, 1024], 10, Activation.Relu, OutputActivation.Softmax, seed: 2);
const int MaxBatch = 64;
const double MaxDelayMs = 5;
int[] sweep = [1, 2, 4, 8, 16, 32, 64];

await using var broker = new RabbitMqBroker();
await broker.InitializeAsync();
await using var cluster = await Cluster.StartAsync(broker.Uri, workers: 1, ct);
var client = cluster.Client;

// 9. Explanations (Kernel SHAP, background of 100 rows): explanation jobs per second for an Iris-sized MLP (4 features,
//    exact: 14 coalitions) and a 32-feature MLP (sampled: 2^32 coalitions cannot be enumerated), and the coalitions in
//    large model calls against one call per coalition's rows, on a second cluster whose workers are set that way.
if (explainOnly || !(textOnly || textEncoderOnly))
{
    var mlp32 = MlpModel.CreateRandom(32, [64, 64], 10, Activation.Relu, OutputActivation.Softmax, seed: 3);
    await Explanations.RegisterAsync(client, "explain-iris", small, ct);
    await Explanations.RegisterAsync(client, "explain-mlp32", mlp32, ct);
    var defaults = new ExplainOptions(); // exact up to 12 features, else 2,048 + 2 per feature sampled
    var sampled = new ExplainOptions { Samples = 512 };
    await Explanations.PerSecondAsync(client, "explain-iris", small, 10, defaults, ct);
    await Explanations.PerSecondAsync(client, "explain-mlp32", mlp32, 2, sampled, ct);
    var irisExact = await Explanations.PerSecondAsync(client, "explain-iris", small, quick ? 100 : 400, defaults, ct);
    var irisSampled = await Explanations.PerSecondAsync(client, "explain-iris", small, quick ? 100 : 400, new ExplainOptions { Samples = 8 }, ct);
    var mlpDefault = await Explanations.PerSecondAsync(client, "explain-mlp32", mlp32, quick ? 5 : 20, defaults, ct);
    var mlpSampled = await Explanations.PerSecondAsync(client, "explain-mlp32", mlp32, quick ? 10 : 40, sampled, ct);
    report.Figure("9. explanations/s, Iris-sized 4-32-32-3 MLP: exact (14 coalitions) / sampled (8 draws)",
        $"{irisExact:F1} vs {irisSampled:F1} explanations/s", irisExact / irisSampled, null);
    report.Figure("9. explanations/s, 32-64-64-10 MLP, sampled: 512 coalitions / the default 2,112 (exact: 2^32 - 2 coalitions, not feasible)",
        $"{mlpSampled:F1} vs {mlpDefault:F1} explanations/s", mlpSampled / mlpDefault, null);

    // The same comparison in this process, the job path left out: what batching the coalitions does to the model work.
    var inProcessMlp = new List<double>();
    var inProcessMlpOne = new List<double>();
    var inProcessIris = new List<double>();
    var inProcessIrisOne = new List<double>();
    for (var round = 0; round < rounds; round++)
    {
        inProcessMlp.Add(Explanations.InProcess(mlp32, quick ? 10 : 30, sampled, rowsPerCall: 16384));
        inProcessMlpOne.Add(Explanations.InProcess(mlp32, quick ? 10 : 30, sampled, rowsPerCall: Explanations.BackgroundRows));
        inProcessIris.Add(Explanations.InProcess(small, quick ? 200 : 1000, defaults, rowsPerCall: 16384));
        inProcessIrisOne.Add(Explanations.InProcess(small, quick ? 200 : 1000, defaults, rowsPerCall: Explanations.BackgroundRows));
    }

    report.Figure("9. in process (the workers' explainer, one session): coalitions in calls of up to 16,384 rows / one call per coalition, 32-64-64-10 MLP, 512 coalitions",
        $"{inProcessMlp.Average():F1} vs {inProcessMlpOne.Average():F1} explanations/s", inProcessMlp.Average() / inProcessMlpOne.Average(), null);
    report.Figure("9. in process: the same, Iris-sized MLP, exact",
        $"{inProcessIris.Average():F0} vs {inProcessIrisOne.Average():F0} explanations/s", inProcessIris.Average() / inProcessIrisOne.Average(), null);

    await using var perCoalitionBroker = new RabbitMqBroker();
    await perCoalitionBroker.InitializeAsync();
    await using var perCoalition = await Cluster.StartAsync(perCoalitionBroker.Uri, workers: 1, ct,
        new Dictionary<string, string> { ["Workers__ExplainRowsPerCall"] = Explanations.BackgroundRows.ToString(CultureInfo.InvariantCulture) });
    await Explanations.RegisterAsync(perCoalition.Client, "explain-mlp32", mlp32, ct);
    await Explanations.RegisterAsync(perCoalition.Client, "explain-iris", small, ct);
    await Explanations.PerSecondAsync(perCoalition.Client, "explain-mlp32", mlp32, 2, sampled, ct);
    var batchedRuns = new List<double>();
    var perCoalitionRuns = new List<double>();
    var irisBatched = new List<double>();
    var irisPerCoalition = new List<double>();
    for (var round = 0; round < rounds; round++)
    {
        batchedRuns.Add(await Explanations.PerSecondAsync(client, "explain-mlp32", mlp32, quick ? 10 : 20, sampled, ct));
        perCoalitionRuns.Add(await Explanations.PerSecondAsync(perCoalition.Client, "explain-mlp32", mlp32, quick ? 10 : 20, sampled, ct));
        irisBatched.Add(await Explanations.PerSecondAsync(client, "explain-iris", small, quick ? 100 : 200, defaults, ct));
        irisPerCoalition.Add(await Explanations.PerSecondAsync(perCoalition.Client, "explain-iris", small, quick ? 100 : 200, defaults, ct));
    }

    report.Figure("9. coalitions in calls of up to 16,384 rows / one call per coalition (100 rows), 32-64-64-10 MLP, 512 coalitions",
        $"{batchedRuns.Average():F1} vs {perCoalitionRuns.Average():F1} explanations/s", batchedRuns.Average() / perCoalitionRuns.Average(), null);
    report.Figure("9. coalitions in calls of up to 16,384 rows / one call per coalition (100 rows), Iris-sized MLP, exact",
        $"{irisBatched.Average():F1} vs {irisPerCoalition.Average():F1} explanations/s", irisBatched.Average() / irisPerCoalition.Average(), null);
    if (explainOnly)
    {
        return 0;
    }
}

// 7. Text in, embeddings out (the OpenAI-compatible surface): a corpus as an OpenAI Batch job against direct in-process
//    embedding, and single-text /v1/embeddings latency under concurrent load.
if (textOnly || !textEncoderOnly)
{
    await TextEmbedding.RegisterAsync(client, ct);
    var corpusLines = quick ? 2_000 : 20_000;
    var corpus = TextEmbedding.Corpus(corpusLines, seed: 17);
    var embedded = await TextEmbedding.BatchAgainstDirectAsync(cluster.ApiUrl, corpus, rounds: 1, ct);
    report.Figure($"7. text embedding (all-MiniLM-L6-v2, {corpusLines:N0}-line corpus): OpenAI Batch API / direct in-process (tokenize, ONNX Runtime, pool, same batches)",
        $"{embedded.SystemPerSecond:F0} vs {embedded.DirectPerSecond:F0} lines/s", embedded.SystemPerSecond / embedded.DirectPerSecond, 0.8);
    var oneText = await TextEmbedding.SingleTextLatencyAsync(cluster.ApiUrl, TextEmbedding.Corpus(quick ? 200 : 600, seed: 23), concurrency: 16, ct);
    report.Figure($"7. /v1/embeddings, one text per call, {oneText.Concurrency} callers at once: p50 / p99 (ms)",
        $"{oneText.P50:F0} / {oneText.P99:F0} ms at {oneText.RequestsPerSecond:F0} calls/s", null, null);
    if (textOnly)
    {
        return 0;
    }
}

// 6. A real text encoder: padding with length grouping, padding in arrival order, and max batch size 1, side by side.
var textJobs = quick ? 600 : 3000;
var (grouped, arrival, single) = await TextEncoder.RunAsync(client, textJobs, textEncoderOnly ? 1 : rounds, ct);
report.Figure($"6. real text encoder (all-MiniLM-L6-v2, {textJobs} jobs of 8-128 tokens): batched, padded, grouped by length / max batch size 1",
    $"{grouped} vs {single}", grouped.JobsPerSecond / single.JobsPerSecond, 3);
report.Figure("6. real text encoder: padding grouped by length / padding in arrival order, throughput",
    $"{arrival}", grouped.JobsPerSecond / arrival.JobsPerSecond, null);
report.Figure("6. real text encoder: padding efficiency grouped by length / in arrival order",
    FormattableString.Invariant($"{grouped.PaddingEfficiency:P1} vs {arrival.PaddingEfficiency:P1}"), grouped.PaddingEfficiency / arrival.PaddingEfficiency, null);
if (textEncoderOnly)
{
    return 0;
}

await Register(client, "small-batched", small, MaxBatch, MaxDelayMs);
await Register(client, "bigger-batched", bigger, MaxBatch, MaxDelayMs);
await Register(client, "bigger-single", bigger, 1, 0);
await Register(client, "small-single", small, 1, 0);
foreach (var size in sweep)
{
    await Register(client, $"big-{size}", big, size, size == 1 ? 0 : MaxDelayMs);
}

string[] smallModels = ["small-batched", "small-single"];
foreach (var name in smallModels.Concat(sweep.Select(s => $"big-{s}")))
{
    await Throughput(name, name.StartsWith("small", StringComparison.Ordinal) ? small : big, 100); // load sessions, JIT
}

await Throughput("bigger-batched", bigger, 100);
await Throughput("bigger-single", bigger, 100);

// 1. Dynamic batching: the same model under saturating load, batching on versus max batch size 1, alternated.
var bigOn = new List<double>();
var bigOff = new List<double>();
var smallOn = new List<double>();
var smallOff = new List<double>();
var biggerOn = new List<double>();
var biggerOff = new List<double>();
for (var round = 0; round < rounds; round++)
{
    biggerOn.Add(await Throughput("bigger-batched", bigger, jobs / 2));
    biggerOff.Add(await Throughput("bigger-single", bigger, jobs / 2));
    bigOn.Add(await Throughput($"big-{MaxBatch}", big, jobs));
    bigOff.Add(await Throughput("big-1", big, jobs));
    smallOn.Add(await Throughput("small-batched", small, jobs));
    smallOff.Add(await Throughput("small-single", small, jobs));
}

report.Figure("1. dynamic batching, 32-1024-1024-1024-10 MLP", $"{biggerOn.Average():F0} vs {biggerOff.Average():F0} jobs/s", biggerOn.Average() / biggerOff.Average(), 4);
report.Figure("1. dynamic batching, 32-512-512-512-10 MLP", $"{bigOn.Average():F0} vs {bigOff.Average():F0} jobs/s", bigOn.Average() / bigOff.Average(), 4);
report.Figure("1. dynamic batching, 4-32-32-3 MLP (quickstart size)", $"{smallOn.Average():F0} vs {smallOff.Average():F0} jobs/s", smallOn.Average() / smallOff.Average(), null);

var curve = new List<(int Size, double JobsPerSecond)>();
foreach (var size in sweep)
{
    curve.Add((size, await Throughput($"big-{size}", big, jobs / 2)));
}

// 2. Queue overhead: one-record predict jobs end to end versus MassTransit publish + empty consume on the same broker.
var ceiling = await RawCeiling.MeasureAsync(broker.Uri, jobs, publishConcurrency: 64, ct);
var endToEnd = await Throughput("small-batched", small, jobs);
var polling = await Throughput("small-batched", small, jobs, cluster.PollingClient);
report.Figure("2. queue overhead: predict jobs end to end / raw MassTransit ceiling", $"{endToEnd:F0} vs {ceiling:F0} msg/s", endToEnd / ceiling, 0.8);
report.Figure("2. SDK completion events on / polling only (before/after), throughput", $"{endToEnd:F0} vs {polling:F0} jobs/s", endToEnd / polling, null);
var oneByOnePolling = await OneAtATime("small-batched", small, 40, cluster.PollingClient);
var oneByOneEvents = await OneAtATime("small-batched", small, 40, client);
report.Figure("2. one job at a time, submit to result in the SDK, p50 (ms): polling only / completion events (before/after)",
    $"{oneByOnePolling:F1} vs {oneByOneEvents:F1} ms", oneByOnePolling / oneByOneEvents, null);

// The same with Workers:RegisterQueuedJobs off (no job-registry queue: one delivery per job, no "queued" state),
// on a virtual host and cluster of its own, so that the registry queue of the main cluster is not left filling.
await using (var leanBroker = new RabbitMqBroker())
{
    await leanBroker.InitializeAsync();
    await using var lean = await Cluster.StartAsync(leanBroker.Uri, workers: 1, ct,
        new Dictionary<string, string> { ["Workers__RegisterQueuedJobs"] = "false" });
    await Register(lean.Client, "small-batched", small, MaxBatch, MaxDelayMs);
    await Throughput("small-batched", small, 100, lean.Client);
    var leanEndToEnd = await Throughput("small-batched", small, jobs, lean.Client);
    var again = await Throughput("small-batched", small, jobs);
    report.Figure("2. queue overhead with queued-registration off / raw MassTransit ceiling", $"{leanEndToEnd:F0} vs {ceiling:F0} msg/s (registration on, again: {again:F0})", leanEndToEnd / ceiling, 0.8);
}

// 3. Bulk scoring: a file end to end through the system against direct in-process ONNX Runtime, alternated.
var bulkRows = quick ? 20_000 : 100_000;
await client.RegisterModelAsync("big-bulk", new MemoryStream(OnnxModelWriter.Write(big)), cancellationToken: ct);
var bulkFile = BulkScoring.WriteFile(big, bulkRows);
var warmUpFile = BulkScoring.WriteFile(big, 5_000);
try
{
    await BulkScoring.ThroughSystemAsync(client, "big-bulk", warmUpFile, 5_000, ct);
    var bulkSystem = new List<double>();
    var bulkDirect = new List<double>();
    for (var round = 0; round < rounds; round++)
    {
        bulkDirect.Add(BulkScoring.Direct(big, bulkFile, bulkRows));
        bulkSystem.Add(await BulkScoring.ThroughSystemAsync(client, "big-bulk", bulkFile, bulkRows, ct));
    }

    report.Figure($"3. bulk scoring, {bulkRows:N0}-row file, 32-512-512-512-10 MLP: system / direct ONNX Runtime",
        $"{bulkSystem.Average():F0} vs {bulkDirect.Average():F0} records/s", bulkSystem.Average() / bulkDirect.Average(), 0.8);
}
finally
{
    File.Delete(bulkFile);
    File.Delete(warmUpFile);
}

// 4. Latency at half the measured maximum throughput, against max-delay + 3 × one batch's model time.
var offered = smallOn.Max() / 2;
var latencies = await OpenLoop("small-batched", small, offered, TimeSpan.FromSeconds(quick ? 4 : 8));
var batchMs = ModelBatchMilliseconds(small, MaxBatch);
var p = Percentiles(latencies, 50, 95, 99);
var bound = MaxDelayMs + 3 * batchMs;
report.Figure($"4. latency at {offered:F0} jobs/s offered: p50 / p95 / p99 (ms)", $"{p[0]:F1} / {p[1]:F1} / {p[2]:F1}; bound {bound:F2} ms = {MaxDelayMs} ms + 3 × {batchMs:F3} ms", bound / p[2], 1);

// Before/after for the embedded store's commit mode: the same load on a cluster whose workers sync every commit to disk.
await using (var syncBroker = new RabbitMqBroker())
{
    await syncBroker.InitializeAsync();
    await using var synced = await Cluster.StartAsync(syncBroker.Uri, workers: 1, ct,
        new Dictionary<string, string> { ["Store__EmbeddedDurability"] = "PowerLoss" });
    await Register(synced.Client, "small-batched", small, MaxBatch, MaxDelayMs);
    await Throughput("small-batched", small, 100, synced.Client);
    var syncedLatencies = Percentiles(await OpenLoop("small-batched", small, offered, TimeSpan.FromSeconds(quick ? 4 : 8), synced.Client), 50, 99);
    report.Figure("4. latency p50 / p99 (ms), store commits synced to disk (PowerLoss) vs not (ProcessCrash, the default)",
        $"{syncedLatencies[0]:F1} / {syncedLatencies[1]:F1} vs {p[0]:F1} / {p[2]:F1}", syncedLatencies[1] / p[2], null);
}

// 5. Footprint and scale-out: peak memory under load, and throughput from one worker process to two.
var oneWorker = await Throughput($"big-{MaxBatch}", big, jobs);
await cluster.AddWorkerAsync(ct);
await Throughput($"big-{MaxBatch}", big, 100);
var twoWorkers = await Throughput($"big-{MaxBatch}", big, jobs);
report.Figure("5. scale-out, 32-512-512-512-10 MLP: 2 worker processes / 1", $"{twoWorkers:F0} vs {oneWorker:F0} jobs/s", twoWorkers / oneWorker, null);
report.Figure("5. peak memory: worker / ResultApi (MiB)",
    $"{Mib(cluster.Workers[0].PeakMemoryBytes())} / {Mib(cluster.Api.PeakMemoryBytes())}", null, null);

report.Write(jobs, rounds, curve, p, bound);
return 0;

async Task Register(IAiaasClient target, string name, MlpModel model, int maxBatch, double maxDelay) =>
    await target.RegisterModelAsync(name, new MemoryStream(OnnxModelWriter.Write(model)),
        new BatchingSettings { MaxBatchSize = maxBatch, MaxQueueDelayMilliseconds = maxDelay }, cancellationToken: ct);

float[][] Records(MlpModel model, int count)
{
    var random = new Random(count);
    return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, model.InputSize).Select(_ => (float)random.NextDouble()).ToArray())];
}

async Task<double> Throughput(string name, MlpModel model, int count, IAiaasClient? through = null)
{
    var target = through ?? client;
    var records = Records(model, count);
    var stopwatch = Stopwatch.StartNew();
    var ids = await target.SubmitPredictManyAsync(records.Select(r => new PredictRequest { Model = name, Features = r }), ct);
    var done = await Task.WhenAll(ids.Select(id => target.WaitForCompletionAsync(id, ct)));
    var seconds = stopwatch.Elapsed.TotalSeconds;
    if (done.Any(j => j.Status != JobStatus.Succeeded))
    {
        throw new InvalidOperationException($"{name}: {done.Count(j => j.Status != JobStatus.Succeeded)} jobs did not succeed");
    }

    Console.WriteLine(FormattableString.Invariant($"  {name,-14} {count,5} jobs {count / seconds,8:F0} jobs/s  mean batch {done.Average(j => j.BatchSize ?? 0),5:F1}"));
    return count / seconds;
}

// One job after another, each awaited by the SDK: the latency a single caller sees, polling and wake-ups included.
async Task<double> OneAtATime(string name, MlpModel model, int count, IAiaasClient target)
{
    var records = Records(model, count);
    var times = new double[count];
    for (var i = 0; i < count; i++)
    {
        var stopwatch = Stopwatch.StartNew();
        await target.PredictAsync(new PredictRequest { Model = name, Features = records[i] }, ct);
        times[i] = stopwatch.Elapsed.TotalMilliseconds;
    }

    return Percentiles(times, 50)[0];
}

// Jobs arrive at a fixed rate whatever the system does (open loop); latency is the stored completion time minus
// the SDK's submit time, so the client's polling does not count.
async Task<double[]> OpenLoop(string name, MlpModel model, double rate, TimeSpan duration, IAiaasClient? through = null)
{
    var target = through ?? client;
    var count = (int)(rate * duration.TotalSeconds);
    var records = Records(model, count);
    var submissions = new List<Task<Guid>>(count);
    var stopwatch = Stopwatch.StartNew();
    for (var i = 0; i < count;)
    {
        var due = (int)Math.Min(count, stopwatch.Elapsed.TotalSeconds * rate);
        for (; i < due; i++)
        {
            submissions.Add(target.SubmitPredictAsync(new PredictRequest { Model = name, Features = records[i] }, ct));
        }

        await Task.Delay(2, ct);
    }

    var ids = await Task.WhenAll(submissions);
    var done = await Task.WhenAll(ids.Select(id => target.WaitForCompletionAsync(id, ct)));
    return [.. done.Select(j => (j.CompletedAt!.Value - j.SubmittedAt).TotalMilliseconds)];
}

static double ModelBatchMilliseconds(MlpModel model, int batch)
{
    using var session = new InferenceSession(OnnxModelWriter.Write(model));
    var input = new float[batch * model.InputSize];
    var times = new List<double>();
    for (var i = 0; i < 220; i++)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, model.InputSize]);
        var stopwatch = Stopwatch.StartNew();
        using var outputs = session.Run(new RunOptions(), [model.InputName], [value], [model.OutputName]);
        if (i >= 20)
        {
            times.Add(stopwatch.Elapsed.TotalMilliseconds);
        }
    }

    return Percentiles([.. times], 50)[0];
}

static double[] Percentiles(double[] values, params int[] percentiles)
{
    var sorted = values.Order().ToArray();
    return [.. percentiles.Select(p => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1)])];
}

static string Mib(long? bytes) => bytes is null ? "n/a" : (bytes.Value / 1048576.0).ToString("F0", CultureInfo.InvariantCulture);
