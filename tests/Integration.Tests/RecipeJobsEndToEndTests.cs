using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Text jobs from every client surface, end to end through the real broker and a worker process: all-MiniLM-L6-v2 registered
/// with a text-embedding recipe and its vocab.txt, then text sent over <c>POST /v1/jobs</c>, through the SDK's
/// <c>EmbedAsync</c> and with <c>aiaas embed</c>; each embedding held to one computed outside the system.
/// </summary>
public sealed class RecipeJobsEndToEndTests(DistributedSystem system) : IClassFixture<DistributedSystem>, IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = system.ApiUrl };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task TextSentOverHttpTheSdkAndTheCliComesBackAsTheSentenceEmbedding()
    {
        var ct = TestTimeout.After(240);
        var name = TestModels.UniqueName("embed-e2e");
        await using (var model = File.OpenRead(RealModels.MiniLm.Model))
        await using (var vocabulary = File.OpenRead(RealModels.MiniLm.Vocabulary))
        {
            await system.Client.RegisterModelAsync(name, model,
                new ModelRecipe { Kind = RecipeKinds.TextEmbedding, Pooling = RecipePooling.Mean, Normalize = true }, vocabulary, cancellationToken: ct);
        }

        using var reference = ReferenceEmbedder.MiniLm();
        const string sentence = "The queue batches text of any length.";
        var expected = reference.Embed(sentence);

        // Over HTTP, as curl would send it.
        using var submitted = await _http.PostAsJsonAsync("v1/jobs", new JsonObject { ["model"] = name, ["text"] = sentence }, ct);
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var jobId = (await submitted.Content.ReadFromJsonAsync<JobView>(WireJson.Options, ct))!.Id;
        var job = await system.Client.WaitForCompletionAsync(jobId, ct);
        Assert.True(job.Status == JobStatus.Succeeded, job.Error);
        var outputs = (await system.Client.GetOutputAsync(jobId, ct)).Outputs;
        var overHttp = outputs.Named("embedding").ToFloats();
        Assert.Equal(384, overHttp.Length);
        Assert.Equal([reference.Tokenize(sentence).Count], outputs.Named("tokens").ToArray<long>().Select(t => (int)t));
        Assert.True(ReferenceEmbedder.Cosine(expected, overHttp) > 0.9999, $"cosine {ReferenceEmbedder.Cosine(expected, overHttp)}");

        // The SDK.
        var fromSdk = await system.Client.EmbedAsync(name, sentence, ct);
        Assert.True(ReferenceEmbedder.Cosine(expected, fromSdk) > 0.9999);

        // The CLI, into a file.
        var file = Path.Combine(Path.GetTempPath(), $"aiaas-embed-{Guid.NewGuid():N}.json");
        try
        {
            Assert.Equal(0, await Cli.CliApp.Build()
                .Parse(["embed", "-m", name, sentence, "--output", file, "--api", system.ApiUrl.ToString(), "--rabbitmq", system.Broker.Uri.ToString()])
                .InvokeAsync(cancellationToken: ct));
            var fromCli = JsonSerializer.Deserialize<float[]>(await File.ReadAllTextAsync(file, ct))!;
            Assert.Equal(384, fromCli.Length);
            Assert.True(ReferenceEmbedder.Cosine(expected, fromCli) > 0.9999);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task AnImageSentWithTheSdkAndTheCliComesBackAsALabelAndScores()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("classify-e2e");
        await using (var model = File.OpenRead(RealModels.OcrDirectionClassifier))
        {
            await system.Client.RegisterModelAsync(name, model,
                new ModelRecipe { Kind = RecipeKinds.ImageClassification, Width = 100, Height = 32, Resize = RecipeResize.Stretch, Labels = ["0", "180"], Probabilities = true },
                null, cancellationToken: ct);
        }

        // A 1x1 red PNG: decoded, stretched to 100x32, normalized, classified.
        var png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");
        var answer = await system.Client.ClassifyImageAsync(name, png, ct);
        Assert.Contains(answer.Label, (string[])["0", "180"]);
        Assert.Equal(answer.Label, answer.Labels[0]);
        Assert.Equal(["0", "180"], answer.Labels.Order());
        Assert.Equal(1f, answer.Scores.Sum(), 3);
        Assert.True(answer.Scores[0] >= answer.Scores[1]);

        var file = Path.Combine(Path.GetTempPath(), $"aiaas-image-{Guid.NewGuid():N}.png");
        try
        {
            await File.WriteAllBytesAsync(file, png, ct);
            Assert.Equal(0, await Cli.CliApp.Build()
                .Parse(["predict", "-m", name, "--image", file, "--api", system.ApiUrl.ToString(), "--rabbitmq", system.Broker.Uri.ToString()])
                .InvokeAsync(cancellationToken: ct));
        }
        finally
        {
            File.Delete(file);
        }

        var jobs = (await system.Client.ListJobsAsync(model: name, cancellationToken: ct)).Items;
        Assert.Equal(2, jobs.Count);
        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
    }
}
