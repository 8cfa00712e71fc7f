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
            grouped.Add(await MeasureAsync(client, "minilm-grouped", sequences, ct));
            arrival.Add(await MeasureAsync(client, "minilm-arrival", sequences, ct));
            single.Add(await MeasureAsync(client, "minilm-single", sequences, ct));
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

    private static async Task<Result> MeasureAsync(IAiaasClient client, string name, long[][] sequences, CancellationToken ct)
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
        return result;
    }

    private static Result Mean(List<Result> results) => new(results[0].Name, results.Average(r => r.JobsPerSecond),
        results.Average(r => r.P50), results.Average(r => r.P99), results.Average(r => r.MeanBatch), results.Average(r => r.PaddingEfficiency));

    private static double Percentile(double[] sorted, int percentile) =>
        sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1)];
}
