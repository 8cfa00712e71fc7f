using System.Diagnostics;
using System.Globalization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Producer;
using AIaaS.Queue.TestSupport;

namespace AIaaS.Queue.Benchmarks;

/// <summary>
/// A real text encoder (all-MiniLM-L6-v2, from a NuGet package) served through the system with token lengths drawn from a
/// realistic spread: batching with padding and length grouping, the same with padding in arrival order, and max batch
/// size 1, measured side by side in one run. Here the model is the bottleneck, so the ratio measures batching itself.
/// </summary>
internal static class TextEncoder
{
    private const int MaxBatch = 32;
    private const double MaxDelayMs = 10;
    private const int ShortestTokens = 8, LongestTokens = 128;

    public sealed record Result(string Name, double JobsPerSecond, double P50, double P99, double MeanBatch, double PaddingEfficiency)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{JobsPerSecond:F0} jobs/s, p50 {P50:F0} ms, p99 {P99:F0} ms, mean batch {MeanBatch:F1}, padding efficiency {PaddingEfficiency:P1}");
    }

    public static async Task<(Result Grouped, Result Arrival, Result Single)> RunAsync(IAiaasClient client, int jobs, int rounds, CancellationToken ct)
    {
        await RegisterAsync(client, "minilm-grouped", Padded(groupByLength: true), ct);
        await RegisterAsync(client, "minilm-arrival", Padded(groupByLength: false), ct);
        await RegisterAsync(client, "minilm-single", new BatchingSettings { MaxBatchSize = 1, MaxQueueDelayMilliseconds = 0 }, ct);

        var sequences = Sequences(jobs, seed: 11);
        var warmUp = Sequences(64, seed: 3);
        foreach (var name in new[] { "minilm-grouped", "minilm-arrival", "minilm-single" })
        {
            await MeasureAsync(client, name, warmUp, ct); // load sessions, JIT
        }

        var grouped = new List<Result>();
        var arrival = new List<Result>();
        var single = new List<Result>();
        for (var round = 0; round < rounds; round++)
        {
            grouped.Add((await MeasureAsync(client, "minilm-grouped", sequences, ct)).Result);
            arrival.Add((await MeasureAsync(client, "minilm-arrival", sequences, ct)).Result);
            single.Add((await MeasureAsync(client, "minilm-single", sequences, ct)).Result);
        }

        return (Mean(grouped), Mean(arrival), Mean(single));
    }

    private static BatchingSettings Padded(bool groupByLength)
    {
        var padded = new InputBatching { PadAxes = [1], MaxShape = [-1, 512] };
        return new BatchingSettings
        {
            MaxBatchSize = MaxBatch,
            MaxQueueDelayMilliseconds = MaxDelayMs,
            GroupByLength = groupByLength,
            Inputs = new Dictionary<string, InputBatching> { ["input_ids"] = padded, ["attention_mask"] = padded, ["token_type_ids"] = padded },
        };
    }

    private static async Task RegisterAsync(IAiaasClient client, string name, BatchingSettings batching, CancellationToken ct)
    {
        await using var file = File.OpenRead(RealModels.MiniLm.Model);
        await client.RegisterModelAsync(name, file, batching, cancellationToken: ct);
    }

    /// <summary>
    /// Token sequences of lengths drawn from a log-normal spread clipped to 8..128 (median about 30 tokens, a long tail:
    /// the shape of sentence and short-paragraph lengths), [CLS] first and [SEP] last, word-piece ids in between.
    /// </summary>
    public static long[][] Sequences(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var length = (int)Math.Clamp(Math.Round(Math.Exp(Math.Log(30) + 0.7 * normal)), ShortestTokens, LongestTokens);
            var ids = new long[length];
            ids[0] = 101;
            ids[^1] = 102;
            for (var i = 1; i < length - 1; i++)
            {
                ids[i] = random.Next(1996, 29612);
            }

            return ids;
        })];
    }

    private static async Task<(Result Result, JobView[] Done)> MeasureAsync(IAiaasClient client, string name, long[][] sequences, CancellationToken ct)
    {
        var requests = sequences.Select(ids => new PredictRequest
        {
            Model = name,
            Inputs =
            [
                Tensors.Int64("input_ids", [1, ids.Length], ids),
                Tensors.Int64("attention_mask", [1, ids.Length], Enumerable.Repeat(1L, ids.Length).ToArray()),
                Tensors.Int64("token_type_ids", [1, ids.Length], new long[ids.Length]),
            ],
            // The sentence embedding (the pooled output), as an embedding service returns: 384 floats a job, so that the
            // model, not writing each token's hidden state, bounds the run.
            Outputs = ["924"],
        }).ToList();
        var stopwatch = Stopwatch.StartNew();
        var ids = await client.SubmitPredictManyAsync(requests, ct);
        var done = await Task.WhenAll(ids.Select(id => client.WaitForCompletionAsync(id, ct)));
        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (done.Any(j => j.Status != JobStatus.Succeeded))
        {
            throw new InvalidOperationException($"{name}: {done.Count(j => j.Status != JobStatus.Succeeded)} jobs did not succeed: {done.First(j => j.Status != JobStatus.Succeeded).Error}");
        }

        var latencies = done.Select(j => (j.CompletedAt!.Value - j.SubmittedAt).TotalMilliseconds).Order().ToArray();
        // Padding efficiency from the stored batches, as the worker computes it: real tokens over tokens sent, where each
        // batch pads every sequence to its longest.
        long real = 0, sent = 0;
        foreach (var batch in done.Select((j, i) => (j.BatchId, Length: sequences[i].Length)).GroupBy(p => p.BatchId))
        {
            real += batch.Sum(p => (long)p.Length);
            sent += (long)batch.Count() * batch.Max(p => p.Length);
        }

        var result = new Result(name, sequences.Length / seconds, Percentile(latencies, 50), Percentile(latencies, 99),
            done.Average(j => j.BatchSize ?? 0), (double)real / sent);
        Console.WriteLine($"  {name,-15} {sequences.Length,5} jobs {result}");
        return (result, done);
    }

    /// <summary>
    /// The model-bound limit of the same work: the system's own batches (the jobs of each stored BatchId, so the same
    /// sequences, batch sizes and padding) run back to back on one ONNX Runtime session in this process, with the worker's
    /// session options, each batch's tensors built and its embeddings read out; against the system end to end, alternated.
    /// Returns the medians, jobs per second, and each round's pair.
    /// </summary>
    public static async Task<(double System, double Direct, double MeanBatch, List<(double System, double Direct)> Rounds, PathProfile.Breakdown Profile)> CeilingAsync(
        Cluster cluster, int jobs, int rounds, CancellationToken ct)
    {
        var client = cluster.Client;
        PathProfile.Breakdown? profile = null;
        const string Name = "minilm-ceiling";
        await RegisterAsync(client, Name, Padded(groupByLength: true), ct);
        var sequences = Sequences(jobs, seed: 11);
        await MeasureAsync(client, Name, Sequences(64, seed: 3), ct); // load the session, JIT
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            GraphOptimizationLevel = Onnx.OnnxModelInspector.ServingOptimization,
            ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL,
        };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(RealModels.MiniLm.Model, options);
        var results = new List<(double System, double Direct)>();
        var meanBatch = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var profiler = new PathProfile(cluster);
            await profiler.StartAsync(ct);
            var (system, done) = await MeasureAsync(client, Name, sequences, ct);
            profile = await profiler.StopAsync(sequences.Length, ct);
            var modelSeconds = profile.Stages.Where(s => s.Name.EndsWith("batch.model", StringComparison.Ordinal)).Sum(s => s.MicrosecondsPerJob) * sequences.Length / 1e6;
            var batches = done.Select((job, i) => (job.BatchId, Index: i)).GroupBy(p => p.BatchId)
                .Select(g => g.Select(p => sequences[p.Index]).ToArray()).ToArray();
            RunBatch(session, batches[0]); // warm: the direct side pays no first-call cost either
            var stopwatch = Stopwatch.StartNew();
            foreach (var batch in batches)
            {
                RunBatch(session, batch);
            }

            var direct = sequences.Length / stopwatch.Elapsed.TotalSeconds;
            Console.WriteLine(FormattableString.Invariant(
                $"  direct ONNX Runtime {sequences.Length,5} jobs {direct,8:F0} jobs/s in the system's {batches.Length} batches ({stopwatch.Elapsed.TotalSeconds:F1} s; the worker's model calls took {modelSeconds:F1} s of the system's {sequences.Length / system.JobsPerSecond:F1} s)"));
            results.Add((system.JobsPerSecond, direct));
            meanBatch.Add(system.MeanBatch);
        }

        return (Median(results.Select(r => r.System)), Median(results.Select(r => r.Direct)), meanBatch.Average(), results, profile!);
    }

    /// <summary>One padded batch as the worker sends it: every sequence padded with zeros to the longest, attention mask 0 there.</summary>
    private static void RunBatch(Microsoft.ML.OnnxRuntime.InferenceSession session, long[][] batch)
    {
        var rows = batch.Length;
        var length = batch.Max(s => s.Length);
        var ids = new long[rows * length];
        var mask = new long[rows * length];
        var types = new long[rows * length];
        for (var row = 0; row < rows; row++)
        {
            batch[row].CopyTo(ids, row * length);
            Array.Fill(mask, 1L, row * length, batch[row].Length);
        }

        long[] shape = [rows, length];
        using var idsValue = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(types, shape);
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var outputs = session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [idsValue, maskValue, typesValue], ["924"]);
        _ = outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static Result Mean(List<Result> results) => new(results[0].Name, results.Average(r => r.JobsPerSecond),
        results.Average(r => r.P50), results.Average(r => r.P99), results.Average(r => r.MeanBatch), results.Average(r => r.PaddingEfficiency));

    private static double Percentile(double[] sorted, int percentile) =>
        sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1)];
}
