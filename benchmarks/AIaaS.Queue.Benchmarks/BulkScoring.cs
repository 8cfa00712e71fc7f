using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Benchmarks;

/// <summary>
/// Figure 3: a file scored end to end through the system (upload, split into chunks, chunks scored by the worker,
/// output downloaded to a file) against the same file scored directly with ONNX Runtime in this process (read, parse,
/// score in batches of the same size, write the same output lines). Both read and write the same bytes.
/// </summary>
internal static class BulkScoring
{
    public const int BatchSize = 256; // the workers' default Workers:BulkBatchSize

    public static string WriteFile(MlpModel model, int rows)
    {
        var path = Path.Combine(Path.GetTempPath(), $"aiaas-bench-{rows}-{Guid.NewGuid():N}.jsonl");
        var random = new Random(rows);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        for (var i = 0; i < rows; i++)
        {
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"{{\"id\":\"r{i}\",\"features\":["));
            for (var f = 0; f < model.InputSize; f++)
            {
                writer.Write(f == 0 ? "" : ",");
                writer.Write(((float)random.NextDouble()).ToString("R", CultureInfo.InvariantCulture));
            }

            writer.Write("]}\n");
        }

        return path;
    }

    public static async Task<double> ThroughSystemAsync(IAiaasClient client, string modelName, string input, int rows, CancellationToken ct)
    {
        var output = input + ".system.out";
        var stopwatch = Stopwatch.StartNew();
        BulkJobView job;
        await using (var file = File.OpenRead(input))
        {
            job = await client.SubmitBulkAsync(new BulkScoreRequest { Model = modelName, Input = file }, ct);
        }

        job = await client.WaitForBulkAsync(job.Id, cancellationToken: ct);
        await using (var destination = File.Create(output))
        {
            await client.DownloadBulkResultsAsync(job.Id, destination, cancellationToken: ct);
        }

        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (job.Status != BulkJobStatus.Succeeded || job.Counts.Succeeded != rows)
        {
            throw new InvalidOperationException($"bulk job {job.Id} ended {job.Status} with {job.Counts.Succeeded} of {rows} scored: {job.Error}");
        }

        Console.WriteLine(FormattableString.Invariant($"  bulk, system  {rows,7} rows {rows / seconds,8:F0} records/s  ({new FileInfo(output).Length / 1048576.0:F0} MiB out)"));
        File.Delete(output);
        return rows / seconds;
    }

    public static double Direct(MlpModel model, string input, int rows)
    {
        var output = input + ".direct.out";
        var stopwatch = Stopwatch.StartNew();
        using var session = new InferenceSession(OnnxModelWriter.Write(model));
        using var lines = new StreamReader(input, Encoding.UTF8, false, 1 << 16);
        using var destination = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        var buffer = new ArrayBufferWriter<byte>(1 << 20);
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        var inputs = new float[BatchSize * model.InputSize];
        var ids = new string[BatchSize];
        var count = 0;
        var scored = 0;
        while (lines.ReadLine() is { } line)
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            var f = 0;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    ids[count] = reader.GetString()!;
                }
                else if (reader.TokenType == JsonTokenType.Number)
                {
                    inputs[count * model.InputSize + f++] = reader.GetSingle();
                }
            }

            if (++count == BatchSize)
            {
                scored += Score(session, model, inputs, ids, count, json, buffer, destination);
                count = 0;
            }
        }

        if (count > 0)
        {
            scored += Score(session, model, inputs, ids, count, json, buffer, destination);
        }

        destination.Flush();
        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (scored != rows)
        {
            throw new InvalidOperationException($"direct scoring scored {scored} of {rows} rows");
        }

        Console.WriteLine(FormattableString.Invariant($"  bulk, direct  {rows,7} rows {rows / seconds,8:F0} records/s"));
        File.Delete(output);
        return rows / seconds;
    }

    private static int Score(InferenceSession session, MlpModel model, float[] inputs, string[] ids, int count,
        Utf8JsonWriter json, ArrayBufferWriter<byte> buffer, Stream destination)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs.AsMemory(0, count * model.InputSize),
            [count, model.InputSize]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [model.InputName], [value], [model.OutputName]);
        var data = outputs[0].GetTensorDataAsSpan<float>();
        for (var r = 0; r < count; r++)
        {
            json.WriteStartObject();
            json.WriteString("id"u8, ids[r]);
            json.WriteStartObject("outputs"u8);
            json.WriteStartArray(model.OutputName);
            foreach (var v in data.Slice(r * model.OutputSize, model.OutputSize))
            {
                json.WriteNumberValue(v);
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
            json.Flush();
            buffer.GetSpan(1)[0] = (byte)'\n';
            buffer.Advance(1);
            json.Reset(buffer);
        }

        destination.Write(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
        return count;
    }
}
