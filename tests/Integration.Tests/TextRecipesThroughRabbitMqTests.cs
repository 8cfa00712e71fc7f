using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Text recipes served through the real broker and a separate worker process on a real sentence encoder
/// (all-MiniLM-L6-v2): the worker tokenizes each text, pads texts of different lengths into shared model calls (the recipe
/// implies the padding; the registration names none) and pools each one's own tokens. Every embedding is held to a
/// reference computed here, one text at a time (<see cref="ReferenceEmbedder"/>).
/// </summary>
public sealed class TextRecipesThroughRabbitMqTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    private static readonly ModelRecipe Embedding = new() { Kind = RecipeKinds.TextEmbedding, Pooling = RecipePooling.Mean, Normalize = true };
    private static readonly BatchingSettings Batching = new() { MaxBatchSize = 16, MaxQueueDelayMilliseconds = 50 };

    internal static readonly string[] Texts =
    [
        "Hi.",
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "Someone in a gorilla costume is playing a set of drums.",
        "The quick brown fox jumps over the lazy dog.",
        "Queues, workers and batches.",
        "Dynamic batching merges single requests into model-sized batches within a bounded delay.",
        "Padding lets sentences of different lengths share one call to the model, and length grouping keeps the padding small.",
        "RabbitMQ carries the jobs; the workers keep the accelerators full.",
        "Is it going to rain tomorrow?",
        "The weather forecast says showers are likely tomorrow afternoon.",
        "Stock markets fell sharply after the announcement.",
        "Café au lait, naïve façade.",
        string.Join(' ', Enumerable.Repeat("A long sentence keeps going so that it is far longer than the others in its batch.", 4)),
    ];

    [Fact]
    public async Task TextsOfAnyLengthAreEmbeddedInPaddedBatchesAsTheyAreAlone()
    {
        var ct = TestTimeout.After(240);
        var files = RealModels.MiniLm;
        var name = await RecipeModels.RegisterAsync(system, "minilm-recipe", files.Model, Embedding, await File.ReadAllTextAsync(files.Vocabulary, ct), Batching, ct);

        var ids = await RecipeModels.SubmitAsync(system, Texts.Select(t => RecipeModels.Text(name, t)), ct);
        var jobs = await RecipeModels.WaitAllAsync(system, ids, ct);

        Assert.All(jobs, j => Assert.True(j.Status == JobStatus.Succeeded, $"{j.Id}: {j.Status} {j.Error}"));
        using var reference = ReferenceEmbedder.MiniLm();
        var tokens = Texts.Select(t => reference.Tokenize(t).Count).ToArray();
        Assert.Contains(jobs.Select((j, i) => (j.BatchId, tokens[i])).GroupBy(p => p.BatchId), b => b.Select(p => p.Item2).Distinct().Count() > 1);
        var embeddings = new float[Texts.Length][];
        var minimum = 1.0;
        for (var i = 0; i < Texts.Length; i++)
        {
            var outputs = (await system.Client.GetOutputAsync(ids[i], ct)).Outputs;
            var embedding = outputs.Named("embedding");
            Assert.Equal("FP32", embedding.Datatype);
            Assert.Equal([384L], embedding.Shape);
            Assert.Equal([(long)tokens[i]], outputs.Named("tokens").ToArray<long>());
            Assert.Equal([false], outputs.Named("truncated").ToArray<bool>());
            embeddings[i] = embedding.ToFloats();
            var cosine = ReferenceEmbedder.Cosine(reference.Embed(Texts[i]), embeddings[i]);
            minimum = Math.Min(minimum, cosine);
            Assert.True(cosine >= 0.9999, $"Text {i} ({tokens[i]} tokens): cosine {cosine} with its reference");
        }

        Report($"Jobs: minimum cosine, served vs reference, over {Texts.Length} texts: {minimum:F10} (1 - cosine = {1 - minimum:E2})");
        // A paraphrase is closer than an unrelated sentence.
        Assert.True(ReferenceEmbedder.Cosine(embeddings[1], embeddings[2]) > ReferenceEmbedder.Cosine(embeddings[1], embeddings[3]));
        Assert.True(ReferenceEmbedder.Cosine(embeddings[15], embeddings[16]) > ReferenceEmbedder.Cosine(embeddings[15], embeddings[17]));
    }

    [Fact]
    public async Task BadTextJobsFailAloneWithTheirReason()
    {
        var ct = TestTimeout.After(180);
        var files = RealModels.MiniLm;
        var name = await RecipeModels.RegisterAsync(system, "minilm-refuse", files.Model, Embedding with { MaxTokens = 8, Truncate = false },
            await File.ReadAllTextAsync(files.Vocabulary, ct), Batching, ct);
        SubmitPredictJob[] jobs =
        [
            RecipeModels.Text(name, "Fine."),
            RecipeModels.Text(name, "   "),
            RecipeModels.Text(name, "This sentence is a good deal longer than eight tokens allow."),
            RecipeModels.Image(name, "AAAA"),
            RecipeModels.Text(name, "Fine too.") with { Features = [1f] },
        ];

        var ids = await RecipeModels.SubmitAsync(system, jobs, ct);
        var done = await RecipeModels.WaitAllAsync(system, ids, ct);

        Assert.Equal([JobStatus.Succeeded, JobStatus.Failed, JobStatus.Failed, JobStatus.Failed, JobStatus.Failed], done.Select(j => j.Status));
        Assert.Equal("Text is empty; give the text to encode.", done[1].Error);
        Assert.Matches(@"^The text is \d+ tokens long \(special tokens included\); the model takes at most 8, ", done[2].Error);
        Assert.Equal($"Model '{name}' v1 takes text (its recipe is text-embedding), not an image.", done[3].Error);
        Assert.Equal("Give either Text or tensors (Features or Inputs), not both.", done[4].Error);
    }

    [Fact]
    public async Task ACorpusOfTextIsEmbeddedOfflineFromJsonLinesAsJobsAre()
    {
        var ct = TestTimeout.After(240);
        var files = RealModels.MiniLm;
        var name = await RecipeModels.RegisterAsync(system, "minilm-bulk-text", files.Model, Embedding, await File.ReadAllTextAsync(files.Vocabulary, ct), Batching, ct);
        var corpus = Enumerable.Range(0, 60).Select(i => $"{Texts[i % Texts.Length]} Document {i}.").ToArray();
        var lines = new StringBuilder();
        for (var i = 0; i < corpus.Length; i++)
        {
            lines.Append(i switch
            {
                7 => """{"id":"doc7","text":""}""",
                30 => """{"id":"doc30","inputs":[{"name":"input_ids","datatype":"INT64","shape":[1,2],"data":[101,102]}]}""",
                41 => """{"id":"doc41","image":"AAAA"}""",
                _ => JsonSerializer.Serialize(new { id = $"doc{i}", text = corpus[i] }),
            }).Append('\n');
        }

        var submitted = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream(Encoding.UTF8.GetBytes(lines.ToString())),
            ChunkSize = 25,
        }, ct);
        var job = await system.Client.WaitForBulkAsync(submitted.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Succeeded, job.Status);
        Assert.Equal(new BulkJobCounts { Total = 60, Succeeded = 57, Failed = 3 }, job.Counts);
        var output = await DownloadAsync(job.Id, errors: false, ct);
        Assert.Equal(Enumerable.Range(0, 60).Where(i => i is not (7 or 30 or 41)).Select(i => $"doc{i}"), output.Select(o => (string)o["id"]!));
        using var reference = ReferenceEmbedder.MiniLm();
        var minimum = 1.0;
        foreach (var line in output)
        {
            var index = int.Parse(((string)line["id"]!)[3..], CultureInfo.InvariantCulture);
            var outputs = line["outputs"]!.AsArray();
            Assert.Equal(["embedding", "tokens", "truncated"], outputs.Select(o => (string)o!["name"]!));
            Assert.Equal([384L], outputs[0]!["shape"]!.AsArray().Select(d => (long)d!));
            var served = outputs[0]!["data"]!.AsArray().Select(v => (float)v!).ToArray();
            minimum = Math.Min(minimum, ReferenceEmbedder.Cosine(reference.Embed(corpus[index]), served));
        }

        Report($"Bulk: minimum cosine, served vs reference, over {output.Count} lines: {minimum:F10} (1 - cosine = {1 - minimum:E2})");
        Assert.True(minimum >= 0.9999, $"minimum cosine {minimum}");
        var errors = await DownloadAsync(job.Id, errors: true, ct);
        Assert.Equal(["doc7", "doc30", "doc41"], errors.Select(e => (string)e["id"]!));
        Assert.Equal("Text is empty; give the text to encode.", (string?)errors[0]["error"]);
        Assert.Equal($"Model '{name}' takes text records (its recipe is text-embedding), not tensors.", (string?)errors[1]["error"]);
        Assert.Equal($"Model '{name}' takes text (its recipe is text-embedding), not an image.", (string?)errors[2]["error"]);
    }

    /// <summary>A figure the lead reports: in the test's output, and on the console for runs that show no test output.</summary>
    internal static void Report(FormattableString line)
    {
        var text = FormattableString.Invariant(line);
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        Console.WriteLine(text);
    }

    private async Task<List<JsonNode>> DownloadAsync(Guid bulkJobId, bool errors, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(bulkJobId, buffer, errors, ct);
        return [.. Encoding.UTF8.GetString(buffer.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];
    }
}
