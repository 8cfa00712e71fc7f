using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;
using SkiaSharp;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Classification recipes through the real broker and a separate worker process, on real models: a text classifier made
/// here from all-MiniLM-L6-v2 (a head whose two columns are the embeddings of two label descriptions), and PaddleOCR's
/// text-direction classifier on images drawn here. Every score is held to ONNX Runtime run directly on the same input.
/// </summary>
public sealed class ClassificationRecipesThroughRabbitMqTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    private static readonly BatchingSettings Batching = new() { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 50 };

    [Fact]
    public async Task ATextClassifierOnARealEncoderScoresAsOnnxRuntimeAndSoftmaxDo()
    {
        var ct = TestTimeout.After(300);
        var files = RealModels.MiniLm;
        var path = Path.Combine(system.DataDirectory.FullName, "minilm-sentiment.onnx");
        await File.WriteAllBytesAsync(path, SentimentHead(files.Model), ct);
        var recipe = new ModelRecipe { Kind = RecipeKinds.TextClassification, Labels = ["positive", "negative"] };
        var name = await RecipeModels.RegisterAsync(system, "sentiment", path, recipe, await File.ReadAllTextAsync(files.Vocabulary, ct), Batching, ct);
        string[] texts =
        [
            "I absolutely love this, it is wonderful!",
            "This is awful. I hate it so much and want my money back.",
            "Great.",
            "The service was slow and the food was cold, a terrible evening.",
            "What a fantastic day, everything went perfectly and I am so happy.",
            "Meh.",
        ];

        var ids = await RecipeModels.SubmitAsync(system, texts.Select(t => RecipeModels.Text(name, t)), ct);
        var jobs = await RecipeModels.WaitAllAsync(system, ids, ct);

        Assert.All(jobs, j => Assert.True(j.Status == JobStatus.Succeeded, $"{j.Status} {j.Error}"));
        using var session = new InferenceSession(path);
        var tokenizer = BertTokenizer.Create(files.Vocabulary);
        for (var i = 0; i < texts.Length; i++)
        {
            var outputs = (await system.Client.GetOutputAsync(ids[i], ct)).Outputs;
            var labels = outputs.Named("labels").ToArray<string>();
            var scores = outputs.Named("scores").ToFloats();
            Assert.Equal(["label", "labels", "scores", "tokens", "truncated"], outputs.Select(o => o.Name));
            Assert.Equal(labels[0], Assert.Single(outputs.Named("label").ToArray<string>()));
            var expected = Softmax(RunText(session, tokenizer.EncodeToIds(texts[i])));
            Assert.Equal(expected[0], scores[Array.IndexOf(labels, "positive")], 1e-4);
            Assert.Equal(expected[1], scores[Array.IndexOf(labels, "negative")], 1e-4);
        }

        Assert.Equal("positive", (await system.Client.GetOutputAsync(ids[0], ct)).Outputs.Named("label").ToArray<string>()[0]);
        Assert.Equal("negative", (await system.Client.GetOutputAsync(ids[1], ct)).Outputs.Named("label").ToArray<string>()[0]);
    }

    [Fact]
    public async Task TheOcrDirectionClassifierTellsUprightTextFromTurnedTextInPngAndJpeg()
    {
        var ct = TestTimeout.After(240);
        var recipe = new ModelRecipe
        {
            Kind = RecipeKinds.ImageClassification, Labels = ["0", "180"], Width = 192, Height = 48, Resize = RecipeResize.Pad,
            Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f], MaxPixels = 200_000, Probabilities = true,
        };
        var name = await RecipeModels.RegisterAsync(system, "ocr-direction", RealModels.OcrDirectionClassifier, recipe, null, Batching, ct);
        (string Text, bool Turned, int Scale, SKEncodedImageFormat Format)[] images =
        [
            ("Hello OCR 2026", false, 1, SKEncodedImageFormat.Png),
            ("Hello OCR 2026", true, 1, SKEncodedImageFormat.Png),
            ("Hello OCR 2026", false, 1, SKEncodedImageFormat.Jpeg),
            ("Hello OCR 2026", true, 1, SKEncodedImageFormat.Jpeg),
            ("Twice the size", false, 2, SKEncodedImageFormat.Png),
            ("Twice the size", true, 2, SKEncodedImageFormat.Jpeg),
        ];
        var encoded = images.Select(i => TextImage(i.Text, i.Turned, i.Scale, i.Format)).ToArray();
        var bad = new[] { "AAAA", "not base64 at all!", Convert.ToBase64String(TextImage("Far too many pixels", false, 5, SKEncodedImageFormat.Png)) };

        var ids = await RecipeModels.SubmitAsync(system, encoded.Select(e => Convert.ToBase64String(e)).Concat(bad).Select(b => RecipeModels.Image(name, b)), ct);
        var jobs = await RecipeModels.WaitAllAsync(system, ids, ct);

        using var session = new InferenceSession(RealModels.OcrDirectionClassifier);
        for (var i = 0; i < images.Length; i++)
        {
            Assert.True(jobs[i].Status == JobStatus.Succeeded, $"Image {i}: {jobs[i].Status} {jobs[i].Error}");
            var outputs = (await system.Client.GetOutputAsync(ids[i], ct)).Outputs;
            var labels = outputs.Named("labels").ToArray<string>();
            var scores = outputs.Named("scores").ToFloats();
            // The classifier ends in a softmax of its own: its probabilities are the scores, as they are.
            var expected = RunImage(session, encoded[i]);
            Assert.Equal(expected[0], scores[Array.IndexOf(labels, "0")], 1e-3);
            Assert.Equal(expected[1], scores[Array.IndexOf(labels, "180")], 1e-3);
            // (Text it is unsure of, as it was of "Queues and batches" upright, is not used.)
            Assert.Equal(images[i].Turned ? "180" : "0", outputs.Named("label").ToArray<string>()[0]);
        }

        Assert.All(jobs[images.Length..], j => Assert.Equal(JobStatus.Failed, j.Status));
        Assert.StartsWith("The image (3 bytes) could not be decoded", jobs[^3].Error, StringComparison.Ordinal);
        Assert.Equal("The image is not valid base64.", jobs[^2].Error);
        Assert.Equal("The image is 960x240, 230400 pixels; at most 200000 are accepted.", jobs[^1].Error);
    }

    [Fact]
    public async Task ABulkFileOfImagesIsClassifiedAsImageJobsAre()
    {
        var ct = TestTimeout.After(240);
        var recipe = new ModelRecipe
        {
            Kind = RecipeKinds.ImageClassification, Labels = ["0", "180"], Width = 192, Height = 48, Resize = RecipeResize.Pad,
            Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f], Probabilities = true,
        };
        var name = await RecipeModels.RegisterAsync(system, "ocr-bulk", RealModels.OcrDirectionClassifier, recipe, null, Batching, ct);
        var images = Enumerable.Range(0, 8).Select(i => TextImage("Hello OCR 2026", turned: i % 2 == 1, 1, i % 4 < 2 ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg)).ToArray();
        var lines = new System.Text.StringBuilder();
        for (var i = 0; i < images.Length; i++)
        {
            lines.Append(System.Text.Json.JsonSerializer.Serialize(new { id = $"img{i}", image = Convert.ToBase64String(images[i]) })).Append('\n');
        }

        lines.Append("""{"id":"junk","image":"AAAA"}""").Append('\n');
        var submitted = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(lines.ToString())),
            ChunkSize = 4,
        }, ct);
        var job = await system.Client.WaitForBulkAsync(submitted.Id, cancellationToken: ct);

        Assert.Equal(new BulkJobCounts { Total = 9, Succeeded = 8, Failed = 1 }, job.Counts);
        using var buffer = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(job.Id, buffer, errors: false, ct);
        var output = System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToArray();
        using var session = new InferenceSession(RealModels.OcrDirectionClassifier);
        for (var i = 0; i < images.Length; i++)
        {
            var outputs = output[i]["outputs"]!.AsArray();
            Assert.Equal($"img{i}", (string?)output[i]["id"]);
            Assert.Equal(i % 2 == 1 ? "180" : "0", (string?)outputs[0]!["data"]![0]);
            var labels = outputs[1]!["data"]!.AsArray().Select(l => (string)l!).ToArray();
            var scores = outputs[2]!["data"]!.AsArray().Select(v => (float)v!).ToArray();
            var expected = RunImage(session, images[i]);
            Assert.Equal(expected[0], scores[Array.IndexOf(labels, "0")], 1e-3);
        }
    }

    /// <summary>MiniLM with a head: the mask-aware mean of its hidden states times the unit embeddings of a positive and a
    /// negative description (scaled by 20, a softmax temperature), as <c>logits</c> [batch, 2].</summary>
    private static byte[] SentimentHead(string encoder)
    {
        using var reference = ReferenceEmbedder.MiniLm();
        var positive = reference.Embed("this is great, I love it");
        var negative = reference.Embed("this is terrible, I hate it");
        var weight = new float[positive.Length, 2];
        for (var d = 0; d < positive.Length; d++)
        {
            weight[d, 0] = 20 * positive[d];
            weight[d, 1] = 20 * negative[d];
        }

        return OnnxGraphEdits.WithMeanPooledClassifier(File.ReadAllBytes(encoder), "last_hidden_state", "attention_mask", weight);
    }

    /// <summary>The composed model run directly on one text, unpadded: its logits.</summary>
    private static float[] RunText(InferenceSession session, IReadOnlyList<int> ids)
    {
        var tokens = ids.Select(i => (long)i).ToArray();
        long[] shape = [1, tokens.Length];
        using var inputIds = OrtValue.CreateTensorValueFromMemory(tokens, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, tokens.Length).ToArray(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[tokens.Length], shape);
        using var options = new RunOptions();
        using var results = session.Run(options, ["input_ids", "attention_mask", "token_type_ids"], [inputIds, mask, types], ["logits"]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>The classifier run directly on one image, prepared here as PaddleOCR prepares it: decoded, resized to
    /// 192x48 (these images have its aspect ratio, so nothing is padded), (x / 255 - 0.5) / 0.5 per RGB channel.</summary>
    private static float[] RunImage(InferenceSession session, byte[] encoded)
    {
        using var codec = SKCodec.Create(new MemoryStream(encoded));
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var decoded = SKBitmap.Decode(codec, info);
        using var sized = decoded.Width == 192 ? decoded.Copy()
            : decoded.Resize(new SKImageInfo(192, 48, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        var chw = new float[3 * 48 * 192];
        for (var y = 0; y < 48; y++)
        {
            for (var x = 0; x < 192; x++)
            {
                var pixel = sized.GetPixel(x, y);
                chw[(0 * 48 * 192) + (y * 192) + x] = ((pixel.Red / 255f) - 0.5f) / 0.5f;
                chw[(1 * 48 * 192) + (y * 192) + x] = ((pixel.Green / 255f) - 0.5f) / 0.5f;
                chw[(2 * 48 * 192) + (y * 192) + x] = ((pixel.Blue / 255f) - 0.5f) / 0.5f;
            }
        }

        using var input = OrtValue.CreateTensorValueFromMemory(chw, [1, 3, 48, 192]);
        using var options = new RunOptions();
        using var results = session.Run(options, [session.InputNames[0]], [input], [session.OutputNames[0]]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Black text on white, <paramref name="scale"/> times 192x48, turned 180° when asked, encoded.</summary>
    private static byte[] TextImage(string text, bool turned, int scale, SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(192 * scale, 48 * scale);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            if (turned)
            {
                canvas.RotateDegrees(180, bitmap.Width / 2f, bitmap.Height / 2f);
            }

            using var font = new SKFont(SKTypeface.Default, 28 * scale);
            using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            canvas.DrawText(text, 6 * scale, 34 * scale, SKTextAlign.Left, font, paint);
        }

        var ink = 0;
        for (var y = 0; y < bitmap.Height; y++)
        {
            for (var x = 0; x < bitmap.Width; x++)
            {
                ink += bitmap.GetPixel(x, y).Red < 128 ? 1 : 0;
            }
        }

        Assert.True(ink > 100 * scale * scale, $"No font drew '{text}' ({ink} dark pixels): Skia found no typeface on this machine.");
        using var data = bitmap.Encode(format, 95);
        return data.ToArray();
    }

    private static float[] Softmax(float[] logits)
    {
        var max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();
        return [.. e.Select(v => (float)(v / e.Sum()))];
    }
}
