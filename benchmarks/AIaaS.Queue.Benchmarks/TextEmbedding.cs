using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Producer;
using AIaaS.Queue.TestSupport;

namespace AIaaS.Queue.Benchmarks;

/// <summary>
/// Text in, embeddings out, through the OpenAI-compatible surface with a real sentence encoder (all-MiniLM-L6-v2 with a
/// text-embedding recipe): a corpus embedded as an OpenAI Batch job (upload, batch, poll, download) against the same
/// corpus embedded directly in this process (the same tokenizer, ONNX Runtime, mean pooling, batches of the worker's bulk
/// size sorted by length as the worker sorts a chunk), alternated; and single-text <c>/v1/embeddings</c> calls under
/// concurrent load, their latency percentiles.
/// </summary>
internal static class TextEmbedding
{
    private const string Model = "minilm-embed";
    private const int BulkBatchSize = 256;    // Workers:BulkBatchSize, the worker's records per model call in bulk jobs
    private const int ChunkSize = 1000;       // SubmitBulkJob.DefaultChunkSize: the worker sorts each chunk by length

    public sealed record BatchResult(double SystemPerSecond, double DirectPerSecond);

    public sealed record LatencyResult(double RequestsPerSecond, double P50, double P99, int Concurrency);

    public static async Task RegisterAsync(IAiaasClient client, CancellationToken ct)
    {
        await using var model = File.OpenRead(RealModels.MiniLm.Model);
        await using var vocabulary = File.OpenRead(RealModels.MiniLm.Vocabulary);
        await client.RegisterModelAsync(Model, model,
            new ModelRecipe { Kind = RecipeKinds.TextEmbedding, Pooling = RecipePooling.Mean, Normalize = true, MaxTokens = 256 },
            vocabulary, new BatchingSettings { MaxBatchSize = 32, MaxQueueDelayMilliseconds = 10 }, cancellationToken: ct);
    }

    /// <summary>Sentences of words drawn from the model's own vocabulary, lengths log-normal (median about 20 words, up
    /// to 100): the spread of sentences and short paragraphs, every word known to the tokenizer or split into pieces.</summary>
    public static string[] Corpus(int lines, int seed)
    {
        var words = File.ReadLines(RealModels.MiniLm.Vocabulary)
            .Where(w => w.Length >= 3 && w.All(char.IsAsciiLetterLower))
            .ToArray();
        var random = new Random(seed);
        return [.. Enumerable.Range(0, lines).Select(_ =>
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var count = (int)Math.Clamp(Math.Round(Math.Exp(Math.Log(20) + 0.6 * normal)), 3, 100);
            return string.Join(' ', Enumerable.Range(0, count).Select(_ => words[random.Next(words.Length)])) + ".";
        })];
    }

    public static async Task<BatchResult> BatchAgainstDirectAsync(Uri api, string[] corpus, int rounds, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(10) };
        var file = BatchFile(corpus);
        using var direct = ReferenceEmbedder.MiniLm();
        await ThroughBatchAsync(http, BatchFile(corpus[..Math.Min(500, corpus.Length)]), 500, ct); // load the model, JIT
        Direct(direct, corpus[..Math.Min(500, corpus.Length)]);
        var system = new List<double>();
        var inProcess = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            inProcess.Add(Direct(direct, corpus));
            system.Add(await ThroughBatchAsync(http, file, corpus.Length, ct));
        }

        return new BatchResult(system.Average(), inProcess.Average());
    }

    /// <summary>Lines per second through the OpenAI Batch API, from the upload to the downloaded output.</summary>
    private static async Task<double> ThroughBatchAsync(HttpClient http, byte[] file, int lines, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        using var upload = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(file) { Headers = { ContentType = new MediaTypeHeaderValue("application/jsonl") } }, "file", "corpus.jsonl" },
        };
        var uploaded = await Json(await http.PostAsync("v1/files", upload, ct), ct);
        var created = await Json(await http.PostAsJsonAsync("v1/batches", new
        {
            input_file_id = (string)uploaded["id"]!,
            endpoint = "/v1/embeddings",
            completion_window = "24h",
        }, ct), ct);
        var id = (string)created["id"]!;
        JsonNode batch;
        while (true)
        {
            batch = await Json(await http.GetAsync($"v1/batches/{id}", ct), ct);
            if ((string?)batch["status"] is "completed" or "failed" or "expired" or "cancelled")
            {
                break;
            }

            await Task.Delay(200, ct);
        }

        if ((string?)batch["status"] != "completed" || (int)batch["request_counts"]!["completed"]! != lines)
        {
            throw new InvalidOperationException($"The batch ended {batch["status"]} with counts {batch["request_counts"]?.ToJsonString()}.");
        }

        using var output = await http.GetAsync($"v1/files/{(string)batch["output_file_id"]!}/content", HttpCompletionOption.ResponseHeadersRead, ct);
        output.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await output.Content.ReadAsStreamAsync(ct));
        var read = 0;
        while (await reader.ReadLineAsync(ct) is { Length: > 0 })
        {
            read++;
        }

        var seconds = stopwatch.Elapsed.TotalSeconds;
        if (read != lines)
        {
            throw new InvalidOperationException($"The output file has {read} lines; {lines} were sent.");
        }

        Console.WriteLine(FormattableString.Invariant($"  OpenAI batch  {lines,6} lines {lines / seconds,8:F0} lines/s"));
        return lines / seconds;
    }

    /// <summary>Lines per second embedded in this process: chunks of the worker's size sorted by length, model calls of its
    /// bulk batch size, the reference tokenizer, ONNX Runtime and pooling.</summary>
    private static double Direct(ReferenceEmbedder embedder, string[] corpus)
    {
        var stopwatch = Stopwatch.StartNew();
        foreach (var chunk in corpus.Chunk(ChunkSize))
        {
            foreach (var batch in chunk.OrderBy(t => embedder.Tokenize(t).Count).Chunk(BulkBatchSize))
            {
                embedder.EmbedBatch(batch);
            }
        }

        var seconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant($"  direct        {corpus.Length,6} lines {corpus.Length / seconds,8:F0} lines/s"));
        return corpus.Length / seconds;
    }

    /// <summary>Single-text <c>/v1/embeddings</c> calls from <paramref name="concurrency"/> clients at once, each waiting
    /// for its answer before the next: the latency one caller sees while others share the batcher.</summary>
    public static async Task<LatencyResult> SingleTextLatencyAsync(Uri api, string[] texts, int concurrency, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(2) };
        await Embed(http, texts[0], ct);
        var next = -1;
        var latencies = new double[texts.Length];
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < texts.Length)
            {
                var call = Stopwatch.StartNew();
                await Embed(http, texts[i], ct);
                latencies[i] = call.Elapsed.TotalMilliseconds;
            }
        }));
        var seconds = stopwatch.Elapsed.TotalSeconds;
        Array.Sort(latencies);
        return new LatencyResult(texts.Length / seconds, Percentile(latencies, 50), Percentile(latencies, 99), concurrency);
    }

    private static async Task Embed(HttpClient http, string text, CancellationToken ct)
    {
        var answer = await Json(await http.PostAsJsonAsync("v1/embeddings", new { model = Model, input = text }, ct), ct);
        if (answer["data"]?[0]?["embedding"]?.AsArray().Count != 384)
        {
            throw new InvalidOperationException($"/v1/embeddings answered {answer.ToJsonString()[..Math.Min(300, answer.ToJsonString().Length)]}");
        }
    }

    private static byte[] BatchFile(string[] corpus)
    {
        var file = new StringBuilder();
        for (var i = 0; i < corpus.Length; i++)
        {
            file.Append(JsonSerializer.Serialize(new
            {
                custom_id = string.Create(CultureInfo.InvariantCulture, $"line-{i}"),
                method = "POST",
                url = "/v1/embeddings",
                body = new { model = Model, input = corpus[i] },
            })).Append('\n');
        }

        return Encoding.UTF8.GetBytes(file.ToString());
    }

    private static async Task<JsonNode> Json(HttpResponseMessage response, CancellationToken ct)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {text}");
            }

            return JsonNode.Parse(text)!;
        }
    }

    private static double Percentile(double[] sorted, int percentile) =>
        sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1)];
}
