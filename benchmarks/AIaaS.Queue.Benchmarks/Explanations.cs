using System.Diagnostics;
using System.Globalization;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Workers.Explanations;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Benchmarks;

/// <summary>Figure 9: explanation jobs (Kernel SHAP) end to end, and the coalitions batched into large model calls against
/// calls of one coalition's rows each, measured side by side on two clusters.</summary>
internal static class Explanations
{
    public const int BackgroundRows = 100;

    /// <summary>Registers <paramref name="model"/> with a background of <see cref="BackgroundRows"/> random rows.</summary>
    public static async Task RegisterAsync(IAiaasClient client, string name, MlpModel model, CancellationToken ct)
    {
        var random = new Random(5);
        var csv = new StringBuilder(string.Join(',', Enumerable.Range(0, model.InputSize).Select(i => $"f{i}"))).Append('\n');
        for (var r = 0; r < BackgroundRows; r++)
        {
            csv.AppendJoin(',', Enumerable.Range(0, model.InputSize).Select(_ => random.NextDouble().ToString("F4", CultureInfo.InvariantCulture))).Append('\n');
        }

        await client.RegisterModelWithBackgroundAsync(name, new MemoryStream(OnnxModelWriter.Write(model)),
            new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())), cancellationToken: ct);
    }

    /// <summary>Explanation jobs per second: <paramref name="count"/> submitted at once, each awaited.</summary>
    public static async Task<double> PerSecondAsync(IAiaasClient client, string name, MlpModel model, int count, ExplainOptions options,
        CancellationToken ct)
    {
        var random = new Random(count);
        var records = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, model.InputSize).Select(_ => (float)random.NextDouble()).ToArray());
        var stopwatch = Stopwatch.StartNew();
        var ids = await client.SubmitPredictManyAsync(records.Select(r => new PredictRequest { Model = name, Features = r, Explain = options }), ct);
        var done = await client.WaitForAllAsync(ids, ct);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (done.FirstOrDefault(j => j.Status != JobStatus.Succeeded) is { } failed)
        {
            throw new InvalidOperationException($"{name}: explanation job {failed.Id} {failed.Status}: {failed.Error}");
        }

        Console.WriteLine(FormattableString.Invariant($"  {name,-14} {count,5} explanations {count / seconds,8:F1}/s  (samples {options.Samples?.ToString(CultureInfo.InvariantCulture) ?? "default"})"));
        return count / seconds;
    }

    /// <summary>The workers' explainer in this process on one ONNX Runtime session (the job path left out): explanations
    /// per second of <paramref name="count"/> records, one at a time as jobs come, with coalition rows in calls of
    /// <paramref name="rowsPerCall"/> rows.</summary>
    public static double InProcess(MlpModel model, int count, ExplainOptions options, int rowsPerCall)
    {
        var random = new Random(5);
        var background = new ExplanationBackground
        {
            Features = [.. Enumerable.Range(0, model.InputSize).Select(i => $"f{i}")],
            Rows = [.. Enumerable.Range(0, BackgroundRows).Select(_ => Enumerable.Range(0, model.InputSize).Select(_ => (float)random.NextDouble()).ToArray())],
            Source = "benchmark",
        };
        using var loaded = new LoadedModel("bench", 1, new InferenceSession(OnnxModelWriter.Write(model)), "cpu",
            new BatchingSettings { MaxBatchSize = 64 }, background: background);
        var records = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, model.InputSize).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
        ModelExplanations.Create(loaded, options, rowsPerCall).Explain([records[0]]);
        var stopwatch = Stopwatch.StartNew();
        var calls = 0;
        foreach (var record in records)
        {
            var explainer = ModelExplanations.Create(loaded, options, rowsPerCall);
            explainer.Explain([record]);
            calls += explainer.ModelCalls;
        }

        var perSecond = count / stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant($"  in process {model.InputSize,2} features, {rowsPerCall,6} rows per call: {perSecond,8:F1} explanations/s, {calls / (double)count:F0} model calls each"));
        return perSecond;
    }
}
