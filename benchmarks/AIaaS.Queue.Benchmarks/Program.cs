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
//        [-- --peer-only] [-- --latency-only] (the last two together run figures 8 and 4 only; the peer needs scripts/install-peer.sh)
//        [-- --cache-only] (figure 9 only)
//        [-- --explain-only] (figure 10 only)
//        [-- --overhead-only] (figure 2 only, with the per-job profile)
//        [-- --encryption-only] (figure 11 only)
//        [-- --text-ceiling-only] (figure 12 only)
//        [-- --bulk-only] (figure 3 only, with the bulk profile)
//        [-- --memory-only] (figure 13 only: worker memory under the adversarial review's reproductions)
//        [-- --store-only] (figure 14 only: the embedded store's writes per predict job, registered or not)
var quick = args.Contains("--quick");
var explainOnly = args.Contains("--explain-only");
var textEncoderOnly = args.Contains("--text-encoder-only");
var textOnly = args.Contains("--text-only");
var peerOnly = args.Contains("--peer-only");
var latencyOnly = args.Contains("--latency-only");
var cacheOnly = args.Contains("--cache-only");
var overheadOnly = args.Contains("--overhead-only");
var encryptionOnly = args.Contains("--encryption-only");
var textCeilingOnly = args.Contains("--text-ceiling-only");
var bulkOnly = args.Contains("--bulk-only");
var memoryOnly = args.Contains("--memory-only");
var storeOnly = args.Contains("--store-only");
var jobs = quick ? 600 : 3000;
var rounds = quick ? 1 : 2;
// Bounded: figures 2, 3 and 12 run their before/after and ceiling sides too, so a full run takes about 12 minutes here.
using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(30));
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

if (memoryOnly)
{
    await MemoryFigures.RunAsync(report, models: quick ? 10 : 30, ct);
    return 0;
}

if (storeOnly)
{
    await StoreFigure.RunAsync(report, quick ? 1 : 5, ct);
    return 0;
}

await using var broker = new RabbitMqBroker();
await broker.InitializeAsync();
await using var cluster = await Cluster.StartAsync(broker.Uri, workers: 1, ct);
var client = cluster.Client;

if (cacheOnly)
{
    await CacheFigureAsync();
    return 0;
}

if (bulkOnly)
{
    await BulkFigureAsync(quick ? 1 : 3);
    return 0;
}

if (textCeilingOnly)
{
    await TextCeilingFigureAsync(quick ? 1 : 3);
    return 0;
}

if (encryptionOnly)
{
    await EncryptionFigureAsync(quick ? 1 : 3);
    return 0;
}

if (overheadOnly)
{
    await Register(client, "small-batched", small, MaxBatch, MaxDelayMs);
    await Throughput("small-batched", small, 300); // load the session
    await OverheadFigureAsync(quick ? 1 : 3);
    return 0;
}

if (peerOnly || latencyOnly)
{
    await RegisterMlpsAsync();
    if (peerOnly)
    {
        await PeerFiguresAsync();
    }

    if (latencyOnly)
    {
        await LatencyFigureAsync(await Throughput("small-batched", small, jobs));
    }

    return 0;
}

// 10. Explanations (Kernel SHAP, background of 100 rows): explanation jobs per second for an Iris-sized MLP (4 features,
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
    report.Figure("10. explanations/s, Iris-sized 4-32-32-3 MLP: exact (14 coalitions) / sampled (8 draws)",
        $"{irisExact:F1} vs {irisSampled:F1} explanations/s", irisExact / irisSampled, null);
    report.Figure("10. explanations/s, 32-64-64-10 MLP, sampled: 512 coalitions / the default 2,112 (exact: 2^32 - 2 coalitions, not feasible)",
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

    report.Figure("10. in process (the workers' explainer, one session): coalitions in calls of up to 16,384 rows / one call per coalition, 32-64-64-10 MLP, 512 coalitions",
        $"{inProcessMlp.Average():F1} vs {inProcessMlpOne.Average():F1} explanations/s", inProcessMlp.Average() / inProcessMlpOne.Average(), null);
    report.Figure("10. in process: the same, Iris-sized MLP, exact",
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

    report.Figure("10. coalitions in calls of up to 16,384 rows / one call per coalition (100 rows), 32-64-64-10 MLP, 512 coalitions",
        $"{batchedRuns.Average():F1} vs {perCoalitionRuns.Average():F1} explanations/s", batchedRuns.Average() / perCoalitionRuns.Average(), null);
    report.Figure("10. coalitions in calls of up to 16,384 rows / one call per coalition (100 rows), Iris-sized MLP, exact",
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

await TextCeilingFigureAsync(rounds);

await RegisterMlpsAsync();
await Register(client, "bigger-batched", bigger, MaxBatch, MaxDelayMs);
await Register(client, "bigger-single", bigger, 1, 0);
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

await PeerFiguresAsync();

// 2. Queue overhead: one-record predict jobs end to end versus MassTransit publish + empty consume on the same broker.
var (endToEnd, ceiling) = await OverheadFigureAsync(rounds);
var polling = await Throughput("small-batched", small, jobs, cluster.PollingClient);
report.Figure("2. SDK completion events on / polling only (before/after), throughput", $"{endToEnd:F0} vs {polling:F0} jobs/s", endToEnd / polling, null);
var oneByOnePolling = await OneAtATime("small-batched", small, 40, cluster.PollingClient);
var oneByOneEvents = await OneAtATime("small-batched", small, 40, client);
report.Figure("2. one job at a time, submit to result in the SDK, p50 (ms): polling only / completion events (before/after)",
    $"{oneByOnePolling:F1} vs {oneByOneEvents:F1} ms", oneByOnePolling / oneByOneEvents, null);

await BulkFigureAsync(rounds);

var (offered, p, bound) = await LatencyFigureAsync(smallOn.Max());

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

await CacheFigureAsync();

// 5. Footprint and scale-out: peak memory under load, and throughput from one worker process to two.
var oneWorker = await Throughput($"big-{MaxBatch}", big, jobs);
await cluster.AddWorkerAsync(ct);
await cluster.WarmUpAsync(ct); // the new worker too
await Throughput($"big-{MaxBatch}", big, 100);
var twoWorkers = await Throughput($"big-{MaxBatch}", big, jobs);
report.Figure("5. scale-out, 32-512-512-512-10 MLP: 2 worker processes / 1", $"{twoWorkers:F0} vs {oneWorker:F0} jobs/s", twoWorkers / oneWorker, null);
report.Figure("5. peak memory: worker / ResultApi (MiB)",
    $"{Mib(cluster.Workers[0].PeakMemoryBytes())} / {Mib(cluster.Api.PeakMemoryBytes())}", null, null);

await StoreFigure.RunAsync(report, rounds, ct);

report.Write(jobs, rounds, curve, p, bound);
return 0;

// 2. Queue overhead: the raw MassTransit ceiling (publish + empty consume, same broker, same message size) and the
//    system's one-record jobs end to end, alternated; the medians' ratio, and the profile of the system's median round
//    (PathProfile: CPU per job by process, and the stages the worker and API time), written into the README.
async Task<(double System, double Ceiling)> OverheadFigureAsync(int overheadRounds)
{
    // Side by side with the default, each on a virtual host and cluster of its own, warmed up like every cluster
    // (Cluster.WarmUpAsync): the change the profile first pointed to, opt-in (Workers:PipelinedResultWrites: a batch lets its
    // model instance go after the model call, at most Workers:MaxBatchesAheadOfWrites batches ahead of the store, and
    // results are stored a group at a time), and the default without its second delivery per job
    // (Workers:RegisterQueuedJobs=false: no job-registry queue, so no "queued" state for jobs submitted over AMQP).
    await using var pipelinedBroker = new RabbitMqBroker();
    await pipelinedBroker.InitializeAsync();
    await using var pipelinedCluster = await Cluster.StartAsync(pipelinedBroker.Uri, workers: 1, ct,
        new Dictionary<string, string> { ["Workers__PipelinedResultWrites"] = "true" });
    await using var leanBroker = new RabbitMqBroker();
    await leanBroker.InitializeAsync();
    await using var leanCluster = await Cluster.StartAsync(leanBroker.Uri, workers: 1, ct,
        new Dictionary<string, string> { ["Workers__RegisterQueuedJobs"] = "false" });
    foreach (var other in new[] { pipelinedCluster, leanCluster })
    {
        await Register(other.Client, "small-batched", small, MaxBatch, MaxDelayMs);
        await Throughput("small-batched", small, 300, other.Client);
    }

    var loadBefore = Report.LoadAverage();
    var ceilings = new List<double>();
    var pipelined = new List<double>();
    var runs = new List<(double JobsPerSecond, PathProfile.Breakdown Profile)>();
    var leanRuns = new List<(double JobsPerSecond, PathProfile.Breakdown Profile)>();
    for (var round = 0; round < overheadRounds; round++)
    {
        ceilings.Add(await RawCeiling.MeasureAsync(broker.Uri, jobs, publishConcurrency: 64, ct));
        runs.Add(await Profiled(cluster));
        pipelined.Add(await Throughput("small-batched", small, jobs, pipelinedCluster.Client));
        leanRuns.Add(await Profiled(leanCluster));
    }

    var load = $"load average {loadBefore} before, {Report.LoadAverage()} after";
    var system = Median(runs.Select(r => r.JobsPerSecond));
    var ceiling = Median(ceilings);
    var median = runs.OrderBy(r => r.JobsPerSecond).ElementAt(runs.Count / 2);
    var measured = FormattableString.Invariant(
        $"{system:F0} vs {ceiling:F0} msg/s (medians of {overheadRounds} alternated rounds: system {Rates(runs.Select(r => r.JobsPerSecond))}; ceiling {Rates(ceilings)}; {load})");
    report.Figure("2. queue overhead: predict jobs end to end / raw MassTransit ceiling", measured, system / ceiling, 0.8);
    var opted = Median(pipelined);
    var pipelinedVsDefault = FormattableString.Invariant(
        $"{opted:F0} vs {system:F0} jobs/s (rounds: {Rates(pipelined)}; {opted / ceiling:F2} of the ceiling)");
    report.Figure("2. opt-in Workers:PipelinedResultWrites (instance let go after the model call, at most 2 batches ahead of the store, results stored a group at a time) / the default (one write per batch, instance held)",
        pipelinedVsDefault, opted / system, null);
    var lean = Median(leanRuns.Select(r => r.JobsPerSecond));
    var leanMedian = leanRuns.OrderBy(r => r.JobsPerSecond).ElementAt(leanRuns.Count / 2);
    var leanVsDefault = FormattableString.Invariant(
        $"{lean:F0} vs {system:F0} jobs/s (rounds: {Rates(leanRuns.Select(r => r.JobsPerSecond))}); {lean / ceiling:F2} of the ceiling");
    report.Figure("2. Workers:RegisterQueuedJobs=false (one delivery per job, no queued state for AMQP submissions) / the default", leanVsDefault, lean / system, null);
    Console.WriteLine(median.Profile.Markdown());
    Console.WriteLine(leanMedian.Profile.Markdown());
    Report.Readme("profile", FormattableString.Invariant(
        $"Figure 2, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, `dotnet run -c Release --project benchmarks/AIaaS.Queue.Benchmarks -- {string.Join(' ', args)}`, every cluster warmed up with {Cluster.WarmUpJobs:N0} jobs first: {measured}; ratio {system / ceiling:F2}. Opt-in pipelined result writes (at most 2 batches ahead of the store, grouped) / the default: {pipelinedVsDefault}, ratio {opted / system:F2}. Without the job-registry delivery (`Workers:RegisterQueuedJobs=false`) / the default: {leanVsDefault}, ratio {lean / system:F2}. The default's median round:\n\n{median.Profile.Markdown()}\n\nThe median round without the job-registry delivery:\n\n{leanMedian.Profile.Markdown()}"));
    return (system, ceiling);

    async Task<(double, PathProfile.Breakdown)> Profiled(Cluster measured)
    {
        var profiler = new PathProfile(measured);
        await profiler.StartAsync(ct);
        var jobsPerSecond = await Throughput("small-batched", small, jobs, measured.Client);
        return (jobsPerSecond, await profiler.StopAsync(jobs, ct));
    }

    static string Rates(IEnumerable<double> rates) => string.Join(", ", rates.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)));
}

// 11. Encryption at rest (issue 18): the same predict jobs on this cluster and on one whose API and workers seal job
//     outputs (Store:Encryption, AES-GCM under a per-tenant data key), alternated; medians of the rounds.
async Task EncryptionFigureAsync(int encryptionRounds)
{
    await using var sealedBroker = new RabbitMqBroker();
    await sealedBroker.InitializeAsync();
    await using var encrypted = await Cluster.StartAsync(sealedBroker.Uri, workers: 1, ct, sharedSettings: new Dictionary<string, string>
    {
        ["Store__Encryption__Enabled"] = "true",
        ["Store__Encryption__MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
    });
    (string Label, string Name, MlpModel Model)[] models =
    [
        ("4-32-32-3 MLP (quickstart size), max batch 64 / 5 ms", "small-batched", small),
        ("32-512-512-512-10 MLP, max batch 64 / 5 ms", $"big-{MaxBatch}", big),
    ];
    foreach (var (_, name, model) in models)
    {
        await Register(client, name, model, MaxBatch, MaxDelayMs);
        await Register(encrypted.Client, name, model, MaxBatch, MaxDelayMs);
        await Throughput(name, model, 300);
        await Throughput(name, model, 300, encrypted.Client);
    }

    // A stored output must come back as it went in: sealed on the way into the store, opened on the way out.
    var check = await encrypted.Client.PredictAsync(new PredictRequest { Model = "small-batched", Features = [0.1f, 0.2f, 0.3f, 0.4f] }, ct);
    var expected = small.Forward([0.1f, 0.2f, 0.3f, 0.4f], 1);
    var outputs = check.Outputs.TryGetValue(small.OutputName, out var output) ? output.Data.EnumerateArray().Select(v => v.GetSingle()).ToArray() : [];
    if (outputs.Length != expected.Length || expected.Zip(outputs, (a, b) => Math.Abs(a - b)).Max() > 1e-4)
    {
        throw new InvalidOperationException("The encrypted cluster's output differs from the model's");
    }

    var loadBefore = Report.LoadAverage();
    foreach (var (label, name, model) in models)
    {
        var on = new List<double>();
        var off = new List<double>();
        for (var round = 0; round < encryptionRounds; round++)
        {
            off.Add(await Throughput(name, model, jobs));
            on.Add(await Throughput(name, model, jobs, encrypted.Client));
        }

        var measured = FormattableString.Invariant(
            $"{Median(on):F0} vs {Median(off):F0} jobs/s (medians of {encryptionRounds} alternated rounds: on {string.Join(", ", on.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}; off {string.Join(", ", off.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}; load average {loadBefore} before, {Report.LoadAverage()} after)");
        report.Figure($"11. encryption at rest, {label}: Store:Encryption on / off, predict throughput", measured, Median(on) / Median(off), null);
        Report.Readme($"encryption-{name}", FormattableString.Invariant(
            $"| {label} | {measured} | {Median(on) / Median(off):F2} |"));
    }
}

// 12. The real-model ceiling: text-embedding jobs end to end against direct in-process batched ONNX Runtime on the same
//     batches the system formed (TextEncoder.CeilingAsync), alternated; how much the queue costs when the model is the work.
async Task TextCeilingFigureAsync(int ceilingRounds)
{
    var textJobs = quick ? 600 : 3000;
    var loadBefore = Report.LoadAverage();
    var (system, direct, meanBatch, pairs, profile) = await TextEncoder.CeilingAsync(cluster, textJobs, ceilingRounds, ct);
    Console.WriteLine(profile.Markdown("text-embedding jobs"));
    var measured = FormattableString.Invariant(
        $"{system:F0} vs {direct:F0} jobs/s, mean batch {meanBatch:F1} (medians of {ceilingRounds} alternated rounds: {string.Join("; ", pairs.Select(p => $"{p.System:F0} vs {p.Direct:F0}"))}; load average {loadBefore} before, {Report.LoadAverage()} after)");
    report.Figure($"12. real-model ceiling, all-MiniLM-L6-v2, {textJobs:N0} jobs of 8-128 tokens, max batch 32 / 10 ms grouped by length: system end to end / direct in-process ONNX Runtime on the system's own batches",
        measured, system / direct, 0.8);
    Report.Readme("text-ceiling", FormattableString.Invariant($"| {textJobs:N0} jobs, `-- --text-ceiling-only`, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC | {measured} | {system / direct:F2} |"));
    Report.Readme("text-ceiling-profile", "The system's last round, profiled as figure 2's is:\n\n" + profile.Markdown("text-embedding jobs"));
}

// 3. Bulk scoring: a file end to end through the system against direct in-process ONNX Runtime, alternated; the system's
//    median round profiled as figure 2's is (CPU per process, and the bulk stages the worker times).
async Task BulkFigureAsync(int bulkRounds)
{
    var bulkRows = quick ? 20_000 : 100_000;
    await client.RegisterModelAsync("big-bulk", new MemoryStream(OnnxModelWriter.Write(big)), cancellationToken: ct);
    var bulkFile = BulkScoring.WriteFile(big, bulkRows);
    var warmUpFile = BulkScoring.WriteFile(big, 5_000);
    try
    {
        await BulkScoring.ThroughSystemAsync(client, "big-bulk", warmUpFile, 5_000, ct);
        // The design before the profile's change, side by side: a split that waits for each chunk's store write and publish
        // before parsing the next (Workers:OverlappedBulkSplit=false), on a virtual host and cluster of their own.
        await using var beforeBroker = new RabbitMqBroker();
        await beforeBroker.InitializeAsync();
        await using var before = await Cluster.StartAsync(beforeBroker.Uri, workers: 1, ct,
            new Dictionary<string, string> { ["Workers__OverlappedBulkSplit"] = "false" });
        await before.Client.RegisterModelAsync("big-bulk", new MemoryStream(OnnxModelWriter.Write(big)), cancellationToken: ct);
        await BulkScoring.ThroughSystemAsync(before.Client, "big-bulk", warmUpFile, 5_000, ct);
        var loadBefore = Report.LoadAverage();
        var bulkSystem = new List<(double RecordsPerSecond, PathProfile.Breakdown Profile)>();
        var bulkDirect = new List<double>();
        var bulkBefore = new List<double>();
        for (var round = 0; round < bulkRounds; round++)
        {
            bulkDirect.Add(BulkScoring.Direct(big, bulkFile, bulkRows));
            var profiler = new PathProfile(cluster);
            await profiler.StartAsync(ct);
            var recordsPerSecond = await BulkScoring.ThroughSystemAsync(client, "big-bulk", bulkFile, bulkRows, ct);
            bulkSystem.Add((recordsPerSecond, await profiler.StopAsync(bulkRows, ct)));
            bulkBefore.Add(await BulkScoring.ThroughSystemAsync(before.Client, "big-bulk", bulkFile, bulkRows, ct));
        }

        var system = Median(bulkSystem.Select(r => r.RecordsPerSecond));
        var direct = Median(bulkDirect);
        var measured = FormattableString.Invariant(
            $"{system:F0} vs {direct:F0} records/s (medians of {bulkRounds} alternated rounds: system {string.Join(", ", bulkSystem.Select(r => r.RecordsPerSecond.ToString("F0", CultureInfo.InvariantCulture)))}; direct {string.Join(", ", bulkDirect.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}; load average {loadBefore} before, {Report.LoadAverage()} after)");
        report.Figure($"3. bulk scoring, {bulkRows:N0}-row file, 32-512-512-512-10 MLP: system / direct ONNX Runtime", measured, system / direct, 0.8);
        var split = FormattableString.Invariant(
            $"{system:F0} vs {Median(bulkBefore):F0} records/s (before: {string.Join(", ", bulkBefore.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))}; {Median(bulkBefore) / direct:F2} of direct)");
        report.Figure("3. bulk split parsing the next chunk while the last is stored and published / waiting for each (before/after)", split, system / Median(bulkBefore), null);
        var median = bulkSystem.OrderBy(r => r.RecordsPerSecond).ElementAt(bulkSystem.Count / 2);
        Console.WriteLine(median.Profile.Markdown("records"));
        Report.Readme("bulk-profile", FormattableString.Invariant(
            $"Figure 3, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, `dotnet run -c Release --project benchmarks/AIaaS.Queue.Benchmarks -- {string.Join(' ', args)}`: {measured}; ratio {system / direct:F2}. Before/after the change the profile pointed to (the split overlapped with its chunks' store writes and publishes / not): {split}, ratio {system / Median(bulkBefore):F2}. The system's median round, per record:\n\n{median.Profile.Markdown("records").Replace("per job", "per record", StringComparison.Ordinal)}"));
    }
    finally
    {
        File.Delete(bulkFile);
        File.Delete(warmUpFile);
    }
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

// The MLPs of figures 1, 2, 4 and 8: batched and at max batch size 1, and the max batch size sweep; each warmed up.
async Task RegisterMlpsAsync()
{
    await Register(client, "small-batched", small, MaxBatch, MaxDelayMs);
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
}

// 9. The response cache: the same workload, half of whose jobs repeat an earlier job's inputs, sent to a version of the
//    larger MLP registered with the response cache and to one without it, alternated; batched, and at max batch size 1,
//    where the model is the work. Each round has records of its own, so nothing is answered from an earlier round's cache.
async Task CacheFigureAsync()
{
    foreach (var (label, maxBatch, maxDelay) in new[] { ($"max batch {MaxBatch} / {MaxDelayMs} ms", MaxBatch, MaxDelayMs), ("max batch size 1", 1, 0.0) })
    {
        var cachedName = $"bigger-cached-{maxBatch}";
        var uncachedName = $"bigger-uncached-{maxBatch}";
        await Register(client, cachedName, bigger, maxBatch, maxDelay, responseCache: true);
        await Register(client, uncachedName, bigger, maxBatch, maxDelay);
        await WithRepeats(cachedName, bigger, 100, seed: -1); // load sessions, JIT
        await WithRepeats(uncachedName, bigger, 100, seed: -1);
        var on = new List<double>();
        var off = new List<double>();
        var answered = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var cached = await WithRepeats(cachedName, bigger, jobs, seed: round);
            on.Add(cached.JobsPerSecond);
            answered.Add(cached.Done.Count(j => j.Cached) / (double)jobs);
            off.Add((await WithRepeats(uncachedName, bigger, jobs, seed: round)).JobsPerSecond);
        }

        report.Figure($"9. response cache, 32-1024-1024-1024-10 MLP ({label}), half the jobs repeating an earlier one: cache on / off, throughput",
            FormattableString.Invariant($"{on.Average():F0} vs {off.Average():F0} jobs/s; {answered.Average():P0} of the jobs answered from the cache"),
            on.Average() / off.Average(), null);
    }
}

// Half the jobs are new records, the other half the same records again in another order, submitted after them.
async Task<(double JobsPerSecond, JobView[] Done)> WithRepeats(string name, MlpModel model, int count, int seed)
{
    var random = new Random(1_000_003 + seed);
    float[][] fresh = [.. Enumerable.Range(0, count / 2).Select(_ => Enumerable.Range(0, model.InputSize).Select(_ => (float)random.NextDouble()).ToArray())];
    var repeats = (float[][])fresh.Clone();
    random.Shuffle(repeats);
    return await Submit(name, [.. fresh, .. repeats]);
}

// 8. The peer users would otherwise reach for: Celery, one task per job, the same MLP weights in numpy, on the same
//    jobs, alternated with the system batched and at max batch size 1 (the peer has no batching to turn off).
async Task PeerFiguresAsync()
{
    await using var peerBroker = new RabbitMqBroker();
    await peerBroker.InitializeAsync();
    var (peer, whyNot) = await CeleryPeer.StartAsync(peerBroker.Uri, ct);
    if (peer is null)
    {
        report.Missing("8. peer (Celery)", whyNot!);
        return;
    }

    await using (peer)
    {
        (string Label, string Name, MlpModel Model, string Batched, string Single)[] comparisons =
        [
            ("32-512-512-512-10 MLP", "big", big, $"big-{MaxBatch}", "big-1"),
            ("4-32-32-3 MLP (quickstart size)", "small", small, "small-batched", "small-single"),
        ];
        foreach (var (label, name, model, batched, single) in comparisons)
        {
            peer.AddModel(name, model);
            await PeerThroughput(peer, name, model, 100); // the worker's start-up, model load and imports
            var on = new List<double>();
            var off = new List<double>();
            var celery = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                on.Add(await Throughput(batched, model, jobs));
                off.Add(await Throughput(single, model, jobs));
                celery.Add(await PeerThroughput(peer, name, model, jobs));
            }

            report.Figure($"8. peer, {label}: system batched (max batch {MaxBatch} / {MaxDelayMs} ms) / Celery",
                $"{on.Average():F0} vs {celery.Average():F0} jobs/s", on.Average() / celery.Average(), 5);
            report.Figure($"8. peer, {label}: system at max batch size 1 / Celery",
                $"{off.Average():F0} vs {celery.Average():F0} jobs/s", off.Average() / celery.Average(), 1);
        }

        report.Figure("8. peer configuration", peer.Configuration, null, null);
    }
}

// The same records Throughput submits to the system; the first output must be the model's, or the peer ran another model.
async Task<double> PeerThroughput(CeleryPeer peer, string name, MlpModel model, int count)
{
    var records = Records(model, count);
    var run = await peer.RunAsync(name, records, ct);
    var expected = model.Forward(records[0], 1);
    var difference = expected.Zip(run.FirstOutput, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(float.PositiveInfinity).Max();
    if (run.FirstOutput.Length != expected.Length || difference > 1e-4)
    {
        throw new InvalidOperationException($"The peer's output for {name} differs from the model's by {difference} ({run.FirstOutput.Length} values)");
    }

    return run.JobsPerSecond;
}

// 4. Latency at half the measured maximum throughput, against a bound a queue can meet, all measured in this run: the
//    max queue delay, one batch's model time, and the p99 of a raw MassTransit round trip (publish, consume, publish
//    back, consume: the hops a job's path is built on) offered at the same rate, on a virtual host of its own.
async Task<(double Offered, double[] Percentiles, double Bound)> LatencyFigureAsync(double maxThroughput)
{
    var offered = maxThroughput / 2;
    var duration = TimeSpan.FromSeconds(quick ? 4 : 8);
    var p = Percentiles(await OpenLoop("small-batched", small, offered, duration), 50, 95, 99);
    var batchMs = ModelBatchMilliseconds(small, MaxBatch);
    await using var rawBroker = new RabbitMqBroker();
    await rawBroker.InitializeAsync();
    var roundTrip = Percentiles(await RawCeiling.RoundTripsAsync(rawBroker.Uri, offered, duration, ct), 50, 99);
    var bound = MaxDelayMs + batchMs + roundTrip[1];
    report.Figure($"4. latency at {offered:F0} jobs/s offered: p50 / p95 / p99 (ms) against the bound",
        $"{p[0]:F1} / {p[1]:F1} / {p[2]:F1}; bound {bound:F2} ms = {MaxDelayMs} ms max queue delay + {batchMs:F3} ms model time (batch of {MaxBatch}) + {roundTrip[1]:F2} ms MassTransit round trip p99 (p50 {roundTrip[0]:F2} ms) at the same rate",
        bound / p[2], 1);
    return (offered, p, bound);
}

async Task Register(IAiaasClient target, string name, MlpModel model, int maxBatch, double maxDelay, bool responseCache = false) =>
    await target.RegisterModelAsync(name, new MemoryStream(OnnxModelWriter.Write(model)),
        new BatchingSettings { MaxBatchSize = maxBatch, MaxQueueDelayMilliseconds = maxDelay, ResponseCache = responseCache ? true : null },
        cancellationToken: ct);

float[][] Records(MlpModel model, int count)
{
    var random = new Random(count);
    return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, model.InputSize).Select(_ => (float)random.NextDouble()).ToArray())];
}

async Task<double> Throughput(string name, MlpModel model, int count, IAiaasClient? through = null) =>
    (await Submit(name, Records(model, count), through)).JobsPerSecond;

// Every record as a job at once, and every result awaited: jobs per second from the first submit to the last result.
async Task<(double JobsPerSecond, JobView[] Done)> Submit(string name, float[][] records, IAiaasClient? through = null)
{
    var target = through ?? client;
    var count = records.Length;
    var stopwatch = Stopwatch.StartNew();
    var ids = await target.SubmitPredictManyAsync(records.Select(r => new PredictRequest { Model = name, Features = r }), ct);
    var done = await Task.WhenAll(ids.Select(id => target.WaitForCompletionAsync(id, ct)));
    var seconds = stopwatch.Elapsed.TotalSeconds;
    if (done.Any(j => j.Status != JobStatus.Succeeded))
    {
        throw new InvalidOperationException($"{name}: {done.Count(j => j.Status != JobStatus.Succeeded)} jobs did not succeed");
    }

    var cached = done.Count(j => j.Cached);
    Console.WriteLine(FormattableString.Invariant(
        $"  {name,-14} {count,5} jobs {count / seconds,8:F0} jobs/s  mean batch {done.Where(j => !j.Cached).Select(j => j.BatchSize ?? 0).DefaultIfEmpty().Average(),5:F1}{(cached > 0 ? $"  cached {cached}" : "")}"));
    return (count / seconds, done);
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
    var ids = await Pacing.AtFixedRateAsync(count, rate, i => target.SubmitPredictAsync(new PredictRequest { Model = name, Features = records[i] }, ct), ct);
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
