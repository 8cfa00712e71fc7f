using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi.Apis;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Registering models with a recipe (<c>PUT /v1/models/{name}</c> as multipart/form-data, the SDK, the CLI) and submitting
/// text and images for them over HTTP: a recipe that does not fit the file is refused with the reason and stores nothing; one
/// that fits is kept with its vocabulary and shown in <c>/v1/models</c> and the Open Inference Protocol's model metadata.
/// </summary>
public sealed class RecipeRegistrationTests(DistributedSystem system) : IClassFixture<DistributedSystem>, IDisposable
{
    private const string MiniLmPadding = "pad=input_ids:1&pad=attention_mask:1&pad=token_type_ids:1&maxShape=input_ids:-1x256";

    private readonly HttpClient _http = new() { BaseAddress = system.ApiUrl };

    public void Dispose() => _http.Dispose();

    public static TheoryData<string, string> Refusals() => new()
    {
        // model (mlp, minilm, ocr), then the recipe's JSON, the vocab part ("minilm", "none" or literal text) and labels.txt
        { "mlp|{\"kind\":\"text-embedding\"}|minilm|", "The model has no input 'input_ids', which a text-embedding recipe writes the token ids into" },
        { "minilm|{\"kind\":\"text-embedding\"}|none|", "needs the model's WordPiece vocabulary: send vocab.txt in the 'vocab' part" },
        { "mlp|{\"kind\":\"text-classification\"}|hello\nworld|", "vocab.txt has no line [CLS]" },
        { "ocr|{\"kind\":\"image-classification\",\"width\":192,\"height\":48}|none|up\nsideways\ndown", "labels.txt has 3 labels; output '{ocr-output}' has 2 classes." },
        { "ocr|{\"kind\":\"image-classification\"}|none|0\n180\n", "has a dynamic height; give the recipe's Height" },
        { "mlp|{\"kind\":\"audio-transcription\"}|none|", "Unknown recipe kind 'audio-transcription'; the kinds are text-embedding, text-classification, image-classification." },
        { "minilm|{\"kind\":\"text-embedding\",\"pooling\":\"max\"}|minilm|", "Unknown pooling 'max'; give mean or cls." },
        { "minilm|{\"kind\":\"text-embedding\",\"maxTokens\":512}|minilm|", "MaxTokens is 512, above the maximum shape registered for input 'input_ids' (256 tokens)." },
        { "minilm|{\"kind\":\"text-classification\",\"output\":\"924\"}|minilm|a\nb", "labels.txt has 2 labels; output '924' has 384 classes." },
        { "mlp|{\"kind\":\"image-classification\"}|none|a\nb\nc", "an image-classification recipe fills FP32 [batch, 3, height, width]" },
        { "mlp|{\"pooling\":\"cls\"}|none|", "The 'recipe' part is not a recipe in JSON" },
        { "mlp|none|none|a\nb\nc", "vocab.txt and labels.txt go with a recipe" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task ARecipeThatDoesNotFitTheModelIsRefusedWithTheReasonAndNothingIsStored(string upload, string reason)
    {
        var ct = TestTimeout.After(90);
        var parts = upload.Split('|');
        var name = TestModels.UniqueName("recipe-bad");
        using var form = Form(ModelFile(parts[0]), parts[1] == "none" ? null : parts[1],
            parts[2] switch { "none" => null, "minilm" => await File.ReadAllTextAsync(RealModels.MiniLm.Vocabulary, ct), var text => text },
            parts[3].Length == 0 ? null : parts[3]);
        using var response = await _http.PutAsync($"v1/models/{name}?{(parts[0] == "minilm" ? MiniLmPadding : "")}", form, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        var ocrOutput = parts[0] == "ocr" ? OnnxModelInspector.Inspect(RealModels.OcrDirectionClassifier).Outputs[0].Name : "";
        Assert.Contains(reason.Replace("{ocr-output}", ocrOutput, StringComparison.Ordinal), body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync($"v1/models/{name}", ct)).StatusCode);
    }

    [Fact]
    public async Task ATextEncoderWithItsVocabularyIsStoredAndShownWithItsRecipeInV1AndV2()
    {
        var ct = TestTimeout.After(120);
        var name = TestModels.UniqueName("recipe-minilm");
        var vocabulary = await File.ReadAllTextAsync(RealModels.MiniLm.Vocabulary, ct);
        using var form = Form(RealModels.MiniLm.Model, """{"kind": "text-embedding", "pooling": "mean", "normalize": true, "maxTokens": 128}""", vocabulary, null);
        using var created = await _http.PutAsync($"v1/models/{name}?{MiniLmPadding}", form, ct);
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync(ct));
        var view = (await created.Content.ReadFromJsonAsync<ModelView>(WireJson.Options, ct))!;
        Assert.Equal((RecipeKinds.TextEmbedding, RecipePooling.Mean, true, 128, true), (view.Recipe!.Kind, view.Recipe.Pooling, view.Recipe.Normalize, view.Recipe.MaxTokens, view.HasVocabulary));

        var listed = Assert.Single((await _http.GetFromJsonAsync<List<ModelView>>("v1/models", WireJson.Options, ct))!, m => m.Name == name);
        Assert.Equal(view.Recipe, listed.Recipe);
        Assert.True(listed.HasVocabulary);
        var stored = await system.ApiServices.GetRequiredService<IModelStore>()
            .GetVocabularyAsync(Tenants.QualifyModel(Tenants.DefaultTenantId, name), 1, ct);
        Assert.Equal(vocabulary, stored);

        var parameters = JsonNode.Parse(await _http.GetStringAsync($"v2/models/{name}/versions/1", ct))!["parameters"]!;
        Assert.Equal("text-embedding", parameters["recipe"]!["kind"]!.GetValue<string>());
        Assert.Equal("mean", parameters["recipe"]!["pooling"]!.GetValue<string>());
        Assert.Equal(128, parameters["recipe"]!["maxTokens"]!.GetValue<int>());
        Assert.Null(parameters["recipe"]!["labels"]); // defaults are left out
        var outputs = parameters["recipe_outputs"]!.AsArray();
        Assert.Equal(["embedding", "tokens", "truncated"], outputs.Select(o => o!["name"]!.GetValue<string>()));
        Assert.Equal([384L], outputs[0]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
        Assert.Equal("FP32", outputs[0]!["datatype"]!.GetValue<string>());
        Assert.Contains("aiaas_recipe_metadata", JsonNode.Parse(await _http.GetStringAsync("v2", ct))!["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));

        // The octet-stream upload still registers a plain model, without recipe or vocabulary.
        using var plain = await _http.PutAsync($"v1/models/{name}", new ByteArrayContent(TestModels.Classifier(seed: 5).Onnx), ct);
        var second = (await plain.Content.ReadFromJsonAsync<ModelView>(WireJson.Options, ct))!;
        Assert.Equal((2, null, false), (second.Version, second.Recipe, second.HasVocabulary));
        Assert.Null(JsonNode.Parse(await _http.GetStringAsync($"v2/models/{name}", ct))!["parameters"]!["recipe"]);
    }

    [Fact]
    public async Task TheSdkRegistersAnImageClassifierWithLabelsAndIsRefusedWithTheReason()
    {
        var ct = TestTimeout.After(90);
        var name = TestModels.UniqueName("recipe-sdk");
        var recipe = new ModelRecipe { Kind = RecipeKinds.ImageClassification, Width = 192, Height = 48, Resize = RecipeResize.Pad, Labels = ["0", "180"] };
        await using (var file = File.OpenRead(RealModels.OcrDirectionClassifier))
        {
            var view = await system.Client.RegisterModelAsync(name, file, recipe, null, new BatchingSettings { MaxBatchSize = 8 }, cancellationToken: ct);
            Assert.Equal(recipe.Labels, view.Recipe!.Labels);
            Assert.Equal((192, 48, RecipeResize.Pad, false, 8), (view.Recipe.Width, view.Recipe.Height, view.Recipe.Resize, view.HasVocabulary, view.Batching!.MaxBatchSize));
        }

        var metadata = JsonNode.Parse(await _http.GetStringAsync($"v2/models/{name}", ct))!["parameters"]!["recipe_outputs"]!.AsArray();
        Assert.Equal(["label", "labels", "scores"], metadata.Select(o => o!["name"]!.GetValue<string>()));
        Assert.Equal([2L], metadata[2]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));

        await using var again = File.OpenRead(RealModels.OcrDirectionClassifier);
        var refused = await Assert.ThrowsAsync<AiaasApiException>(() =>
            system.Client.RegisterModelAsync(name, again, recipe with { Std = [0.5f, 0f, 0.5f] }, null, cancellationToken: ct));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("Std has a 0", refused.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCliRegistersARecipeWithItsFilesThroughTheApi()
    {
        var ct = TestTimeout.After(120);
        var name = TestModels.UniqueName("recipe-cli");
        var folder = Directory.CreateTempSubdirectory("aiaas-recipe-cli-");
        try
        {
            var labels = Path.Combine(folder.FullName, "labels.txt");
            await File.WriteAllTextAsync(labels, "upright\r\n\r\nupside-down\r\n", ct);
            Assert.Equal(0, await CliAsync(["models", "register", "--name", name, "--file", RealModels.MiniLm.Model, "--recipe", "text-embedding",
                "--vocab", RealModels.MiniLm.Vocabulary, "--pooling", "cls", "--normalize", "--max-tokens", "256", "--lowercase", "false",
                "--prefix", "query: ", "--pad", "input_ids:1", "--pad", "attention_mask:1", "--pad", "token_type_ids:1"], ct));
            var text = Assert.Single(await system.Client.ListModelsAsync(ct), m => m.Name == name);
            Assert.Equal(new ModelRecipe { Kind = "text-embedding", Pooling = "cls", Normalize = true, MaxTokens = 256, Lowercase = false, Prefix = "query: " },
                text.Recipe);
            Assert.True(text.HasVocabulary);

            Assert.Equal(0, await CliAsync(["models", "register", "--name", name, "--file", RealModels.OcrDirectionClassifier, "--recipe", "image-classification",
                "--labels", labels, "--width", "192", "--height", "48", "--resize", "stretch", "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5", "--bgr", "--top-k", "1",
                "--probabilities"], ct));
            var image = (await system.Client.ListModelsAsync(ct)).Single(m => m.Name == name && m.Version == 2);
            Assert.Equal(["upright", "upside-down"], image.Recipe!.Labels!);
            Assert.Equal([0.5f, 0.5f, 0.5f], image.Recipe.Std!);
            Assert.Equal((true, 1, "stretch", true), (image.Recipe.Bgr, image.Recipe.TopK, image.Recipe.Resize, image.Recipe.Probabilities));

            // Refused by the server (no size for dynamic axes) and by the command line itself (recipe settings without a recipe).
            Assert.NotEqual(0, await CliAsync(["models", "register", "--name", name, "--file", RealModels.OcrDirectionClassifier, "--recipe", "image-classification", "--labels", labels], ct));
            Assert.Equal(2, await CliAsync(["models", "register", "--name", name, "--file", RealModels.OcrDirectionClassifier, "--labels", labels], ct));
            Assert.Equal(2, (await system.Client.ListModelsAsync(ct)).Count(m => m.Name == name));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TextAndImageJobsAreRefusedAtSubmissionWhenTheModelHasNoRecipeOfThatKind()
    {
        var ct = TestTimeout.After(90);
        var mlp = TestModels.UniqueName("recipe-none");
        await system.Client.RegisterModelAsync(mlp, new MemoryStream(TestModels.Classifier(seed: 9).Onnx), cancellationToken: ct);
        var ocr = TestModels.UniqueName("recipe-img");
        await using (var file = File.OpenRead(RealModels.OcrDirectionClassifier))
        {
            await system.Client.RegisterModelAsync(ocr, file, new ModelRecipe { Kind = RecipeKinds.ImageClassification, Width = 100, Height = 32, Labels = ["0", "180"] },
                null, cancellationToken: ct);
        }

        var image = Convert.ToBase64String([0x89, 0x50, 0x4E, 0x47]);
        (JsonObject Body, string Reason)[] refusals =
        [
            (new() { ["model"] = mlp, ["text"] = "hello", ["features"] = new JsonArray(1, 2, 3, 4) }, "Give the record in exactly one way: Features, Inputs, Text or Image."),
            (new() { ["model"] = mlp, ["text"] = "hello", ["image"] = image }, "Give the record in exactly one way"),
            (new() { ["model"] = mlp, ["text"] = "hello" }, $"Model {mlp} version 1 has no recipe, so it takes tensors (Features or Inputs), not text"),
            (new() { ["model"] = mlp, ["image"] = image }, "has no recipe, so it takes tensors (Features or Inputs), not an image"),
            (new() { ["model"] = ocr, ["text"] = "hello" }, $"Model {ocr} version 1 has an image-classification recipe, which does not take text"),
            (new() { ["model"] = ocr, ["image"] = "not base64!" }, "Image must be the image file's bytes (PNG, JPEG or WebP), base64-encoded."),
        ];
        foreach (var (body, reason) in refusals)
        {
            using var response = await _http.PostAsJsonAsync("v1/jobs", body, ct);
            var answer = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, answer);
            Assert.Contains(reason, answer, StringComparison.Ordinal);
        }

        Assert.Empty((await system.Client.ListJobsAsync(model: mlp, cancellationToken: ct)).Items);

        // An image for an image model is queued (the worker decodes it, or fails the job with the reason).
        using var queued = await _http.PostAsJsonAsync("v1/jobs", new JsonObject { ["model"] = ocr, ["image"] = image }, ct);
        Assert.Equal(HttpStatusCode.Accepted, queued.StatusCode);
    }

    [Fact]
    public async Task ManyTextsAreQueuedOnOneVersionForTheEmbeddingsEndpointOrRefusedWhole()
    {
        var ct = TestTimeout.After(120);
        var name = TestModels.UniqueName("recipe-many");
        await using (var model = File.OpenRead(RealModels.MiniLm.Model))
        await using (var vocabulary = File.OpenRead(RealModels.MiniLm.Vocabulary))
        {
            await system.Client.RegisterModelAsync(name, model, new ModelRecipe { Kind = RecipeKinds.TextEmbedding }, vocabulary, cancellationToken: ct);
        }

        var submitter = system.ApiServices.GetRequiredService<JobSubmitter>();
        var caller = new TenantCaller(Tenants.DefaultTenantId, null);
        var submitted = await submitter.SubmitTextsAsync(caller, name, ["first text", "second text", "third"], cancellationToken: ct);
        Assert.Null(submitted.Refusal);
        Assert.Equal((3, 1), (submitted.JobIds.Count, submitted.ModelVersion));
        var jobs = system.ApiServices.GetRequiredService<IJobStore>();
        foreach (var id in submitted.JobIds)
        {
            var job = (await jobs.GetAsync(Tenants.DefaultTenantId, id, ct))!;
            Assert.Equal((Tenants.QualifyModel(Tenants.DefaultTenantId, name), 1, JobKind.Predict), (job.Model, job.ModelVersion, job.Kind));
        }

        var mlp = TestModels.UniqueName("recipe-many-mlp");
        await system.Client.RegisterModelAsync(mlp, new MemoryStream(TestModels.Classifier(seed: 3).Onnx), cancellationToken: ct);
        var noRecipe = await submitter.SubmitTextsAsync(caller, mlp, ["a", "b"], cancellationToken: ct);
        Assert.Equal(StatusCodes.Status400BadRequest, noRecipe.Refusal!.Status);
        Assert.Contains("has no recipe", noRecipe.Refusal.Detail, StringComparison.Ordinal);
        Assert.Empty(noRecipe.JobIds);
        Assert.Empty((await system.Client.ListJobsAsync(model: mlp, cancellationToken: ct)).Items);
        Assert.Equal(StatusCodes.Status404NotFound, (await submitter.SubmitTextsAsync(caller, "no-such-model", ["a"], cancellationToken: ct)).Refusal!.Status);
        Assert.Equal(StatusCodes.Status400BadRequest, (await submitter.SubmitTextsAsync(caller, name, [], cancellationToken: ct)).Refusal!.Status);
    }

    [Fact]
    public void RecipeRulesNameWhatDoesNotFit()
    {
        static TensorSpec Tensor(string name, string datatype, params int[] shape) =>
            new() { Name = name, ElementType = datatype.ToLowerInvariant(), Datatype = datatype, Shape = shape };
        var encoder = new ModelSignature(
            [Tensor("input_ids", "INT64", -1, -1), Tensor("attention_mask", "INT64", -1, -1)],
            [Tensor("last_hidden_state", "FP32", -1, -1, 8), Tensor("pooled", "FP32", -1, 8), Tensor("flat", "FP32", -1)]);
        const string vocabulary = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n";
        string? Check(ModelRecipe recipe, ModelSignature? model = null, string? vocab = vocabulary, BatchingSettings? batching = null) =>
            RecipeRules.Problem(recipe, model ?? encoder, vocab, batching);
        var embedding = new ModelRecipe { Kind = RecipeKinds.TextEmbedding };

        Assert.Null(Check(embedding));
        Assert.Null(Check(embedding with { Output = "last_hidden_state", Pooling = "cls", MaxTokens = 8192 }));
        Assert.Null(Check(embedding with { Output = "pooled" })); // pooled already, and named
        Assert.Contains("Output 'flat' is FP32 [-1]; a text-embedding recipe pools FP32 hidden states of rank 3", Check(embedding with { Output = "flat" }), StringComparison.Ordinal);
        Assert.Contains("The model has no output 'logits'", Check(embedding with { Output = "logits" }), StringComparison.Ordinal);
        Assert.Contains("MaxTokens is 1; give 2 to 8192", Check(embedding with { MaxTokens = 1 }), StringComparison.Ordinal);
        Assert.Contains("MaxTokens is 9000", Check(embedding with { MaxTokens = 9000 }), StringComparison.Ordinal);
        Assert.Contains("vocab.txt has no line [SEP]", Check(embedding, vocab: "[CLS]\n[UNK]\n"), StringComparison.Ordinal);
        Assert.Contains("vocab.txt is not a WordPiece vocabulary the tokenizer can read", Check(embedding, vocab: vocabulary.Replace("[MASK]\n", "", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("takes no labels", Check(embedding with { Labels = ["a"] }), StringComparison.Ordinal);
        Assert.Contains("TopK is 0", Check(embedding with { TopK = 0 }), StringComparison.Ordinal);
        Assert.Contains("Mean has 2 values", Check(embedding with { Mean = [0.5f, 0.5f] }), StringComparison.Ordinal);
        Assert.Contains("Unknown resize 'fit'", Check(embedding with { Resize = "fit" }), StringComparison.Ordinal);

        var extra = encoder with { Inputs = [.. encoder.Inputs, Tensor("position_ids", "INT64", -1, -1)] };
        Assert.Contains("an input 'position_ids' that a text-embedding recipe cannot fill", Check(embedding, extra), StringComparison.Ordinal);
        var floats = encoder with { Inputs = [Tensor("input_ids", "FP32", -1, -1)] };
        Assert.Contains("Input 'input_ids' is FP32 [-1, -1]; a text-embedding recipe fills INT64 or INT32 inputs of rank 2", Check(embedding, floats), StringComparison.Ordinal);
        var fixedLength = encoder with { Inputs = [Tensor("input_ids", "INT32", -1, 64)] };
        Assert.Null(Check(embedding with { MaxTokens = 64 }, fixedLength));
        Assert.Contains("fixes input 'input_ids' at 64 tokens", Check(embedding with { MaxTokens = 65 }, fixedLength), StringComparison.Ordinal);
        var mixed = encoder with { Inputs = [Tensor("input_ids", "INT64", -1, 64), Tensor("attention_mask", "INT64", -1, -1)] };
        Assert.Contains("disagree on the sequence length", Check(embedding, mixed), StringComparison.Ordinal);
        var unbatched = encoder with { Inputs = [Tensor("input_ids", "INT64", 1, -1), Tensor("attention_mask", "INT64", 2, -1)] };
        Assert.Contains("have no batch dimension", Check(embedding, unbatched), StringComparison.Ordinal);

        var classifier = encoder with { Outputs = [Tensor("logits", "FP32", -1, 3)] };
        var classification = new ModelRecipe { Kind = RecipeKinds.TextClassification, Labels = ["a", "b", "c"], MultiLabel = true };
        Assert.Null(Check(classification, classifier));
        Assert.Equal("The recipe has 2 labels; output 'logits' has 3 classes.", Check(classification with { Labels = ["a", "b"] }, classifier));
        Assert.Contains("needs the class names", Check(classification with { Labels = null }, classifier), StringComparison.Ordinal);
        Assert.Null(Check(classification, encoder with { Outputs = [Tensor("logits", "FP32", -1, 3, 1, 1)] }));
        Assert.Contains("reads FP32 logits", Check(classification, encoder with { Outputs = [Tensor("logits", "FP16", -1, 3)] }), StringComparison.Ordinal);

        var image = new ModelSignature([Tensor("pixels", "FP32", 1, 3, 224, 224)], [Tensor("logits", "FP32", 1, 2)]);
        var photo = new ModelRecipe { Kind = RecipeKinds.ImageClassification, Labels = ["cat", "dog"] };
        Assert.Null(Check(photo, image, vocab: null));
        Assert.Null(Check(photo with { Width = 224, Height = 224, Mean = [0, 0, 0], Std = [1, 1, 1] }, image, vocab: null));
        Assert.Contains("Width is 256, but the model fixes input 'pixels' [1, 3, 224, 224] at 224 on axis 3", Check(photo with { Width = 256 }, image, vocab: null), StringComparison.Ordinal);
        Assert.Contains("takes no vocabulary", Check(photo, image), StringComparison.Ordinal);
        var gray = image with { Inputs = [Tensor("pixels", "FP32", 1, 1, 224, 224)] };
        Assert.Contains("FP32 [batch, 3, height, width]", Check(photo, gray, vocab: null), StringComparison.Ordinal);

        Assert.Equal(["cat", "dog", "a b"], RecipeRules.ParseLabels("cat\r\n\n  dog \n a b\n\n"));
    }

    /// <summary>The model file a refusal case names.</summary>
    private static string ModelFile(string which)
    {
        if (which == "minilm")
        {
            return RealModels.MiniLm.Model;
        }

        if (which == "ocr")
        {
            return RealModels.OcrDirectionClassifier;
        }

        var path = Path.Combine(Path.GetTempPath(), $"aiaas-recipe-mlp-{Environment.ProcessId}.onnx");
        if (!File.Exists(path))
        {
            File.WriteAllBytes(path, TestModels.Classifier(seed: 71).Onnx);
        }

        return path;
    }

    /// <summary>The multipart body <c>curl -F model=@model.onnx -F recipe=... -F vocab=@vocab.txt -F labels=@labels.txt</c> sends.</summary>
    private static MultipartFormDataContent Form(string model, string? recipe, string? vocabulary, string? labels)
    {
        var form = new MultipartFormDataContent();
        var file = new StreamContent(File.OpenRead(model));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "model", "model.onnx");
        if (recipe is not null)
        {
            form.Add(new StringContent(recipe, Encoding.UTF8, "application/json"), "recipe");
        }

        if (vocabulary is not null)
        {
            form.Add(new StringContent(vocabulary), "vocab", "vocab.txt");
        }

        if (labels is not null)
        {
            form.Add(new StringContent(labels), "labels", "labels.txt");
        }

        return form;
    }

    private Task<int> CliAsync(string[] arguments, CancellationToken ct) =>
        Cli.CliApp.Build().Parse([.. arguments, "--api", system.ApiUrl.ToString(), "--rabbitmq", system.Broker.Uri.ToString()]).InvokeAsync(cancellationToken: ct);
}
