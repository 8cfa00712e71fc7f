using System.Text.Json;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises for model versions and their files, and idempotent registration by a training job (<see cref="IModelStore"/>).</summary>
public abstract class ModelStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task FirstVersionIsOneAndKeepsItsSpecsAndBatching()
    {
        var name = UniqueModel();
        var model = NewModel(name) with
        {
            Batching = new BatchingSettings { MaxBatchSize = 64, MaxQueueDelayMilliseconds = 2.5, ResponseCache = true },
            Description = "iris classifier",
        };

        var added = await Models.AddVersionAsync(model, new MemoryStream([1, 2, 3]), Ct);
        var stored = await Models.GetVersionAsync(name, 1, Ct);

        Assert.Equal(1, added.Version);
        Assert.NotNull(stored);
        AssertSameModel(added, stored);
        AssertSameSpecs(model.Inputs, stored.Inputs);
        AssertSameSpecs(model.Outputs, stored.Outputs);
        Assert.Equal(model.Batching, stored.Batching);
        Assert.Equal("iris classifier", stored.Description);
        Assert.InRange(stored.CreatedAt, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
    }

    [Fact]
    public async Task RecipeAndVocabularyAreKeptWithTheVersionAndTheVocabularyIsReadOnlyOnRequest()
    {
        var name = UniqueModel();
        var recipe = new ModelRecipe
        {
            Kind = RecipeKinds.TextClassification,
            Lowercase = false,
            MaxTokens = 128,
            Labels = ["negative", "positive"],
            Mean = [0.5f, 0.5f, 0.5f],
        };
        const string vocabulary = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n";

        var added = await Models.AddVersionAsync(NewModel(name) with { Recipe = recipe, Vocabulary = vocabulary }, new MemoryStream([1]), Ct);
        await Models.AddVersionAsync(NewModel(name), new MemoryStream([2]), Ct);
        var stored = await Models.GetVersionAsync(name, 1, Ct);
        var listed = (await Models.ListAsync(name, Ct))[0];

        Assert.True(added.HasVocabulary);
        Assert.NotNull(stored);
        Assert.True(stored.HasVocabulary);
        Assert.Equal(RecipeKinds.TextClassification, stored.Recipe!.Kind);
        Assert.Equal(128, stored.Recipe.MaxTokens);
        Assert.False(stored.Recipe.Lowercase);
        Assert.Equal(["negative", "positive"], stored.Recipe.Labels);
        Assert.Equal([0.5f, 0.5f, 0.5f], stored.Recipe.Mean);
        Assert.Equal(RecipeKinds.TextClassification, listed.Recipe!.Kind);
        Assert.Equal(vocabulary, await Models.GetVocabularyAsync(name, 1, Ct));
        Assert.Null(await Models.GetVocabularyAsync(name, 2, Ct));
        Assert.Null((await Models.GetVersionAsync(name, 2, Ct))!.Recipe);
        Assert.False((await Models.GetVersionAsync(name, 2, Ct))!.HasVocabulary);
        Assert.Null(await Models.GetVocabularyAsync(name, 3, Ct));
    }

    [Fact]
    public async Task BackgroundIsKeptWithTheVersion()
    {
        var name = UniqueModel();
        var background = new ExplanationBackground
        {
            Features = ["sepal length", "sepal width", "petal length", "petal width"],
            Rows = [[5.1f, 3.5f, 1.4f, 0.2f], [6.7f, 3.1f, 4.4f, 1.4f]],
            Weights = [0.25, 0.75],
            Source = "uploaded",
        };

        var added = await Models.AddVersionAsync(NewModel(name) with { Background = background }, new MemoryStream([1]), Ct);
        await Models.AddVersionAsync(NewModel(name), new MemoryStream([2]), Ct);
        var stored = await Models.GetVersionAsync(name, 1, Ct);

        Assert.Equal(JsonSerializer.Serialize(background), JsonSerializer.Serialize(added.Background));
        Assert.Equal(JsonSerializer.Serialize(background), JsonSerializer.Serialize(stored!.Background));
        Assert.Null((await Models.GetVersionAsync(name, 2, Ct))!.Background);
    }

    [Fact]
    public async Task LatestVersionResolvesToHighest()
    {
        var name = UniqueModel();
        var other = UniqueModel();
        for (var i = 0; i < 3; i++)
        {
            await Models.AddVersionAsync(NewModel(name) with { Description = $"v{i + 1}" }, new MemoryStream([(byte)i]), Ct);
        }

        await Models.AddVersionAsync(NewModel(other), new MemoryStream([9]), Ct);

        var latest = await Models.GetVersionAsync(name, null, Ct);
        Assert.Equal(3, latest?.Version);
        Assert.Equal("v3", latest?.Description);
        Assert.Equal(2, (await Models.GetVersionAsync(name, 2, Ct))?.Version);
        Assert.Null(await Models.GetVersionAsync(name, 4, Ct));
        Assert.Null(await Models.GetVersionAsync(UniqueModel(), null, Ct));
        Assert.Equal([1, 2, 3], (await Models.ListAsync(name, Ct)).Select(m => m.Version));

        var all = await Models.ListAsync(cancellationToken: Ct);
        var ours = all.Where(m => m.Name == name || m.Name == other).Select(m => (m.Name, m.Version)).ToList();
        Assert.Equal(ours.OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Version), ours);
        Assert.Equal(4, ours.Count);
    }

    [Fact]
    public async Task ConcurrentRegistrationsGetDistinctConsecutiveVersions()
    {
        const int Registrations = 8;
        var name = UniqueModel();
        var files = Enumerable.Range(0, Registrations).Select(i => RandomBytes(100_000 + i, seed: i)).ToList();

        var added = await Task.WhenAll(files.Select(file =>
            Task.Run(() => Models.AddVersionAsync(NewModel(name), new MemoryStream(file), Ct), Ct)));

        Assert.Equal(Enumerable.Range(1, Registrations), added.Select(m => m.Version).Order());
        for (var i = 0; i < Registrations; i++)
        {
            Assert.Equal(Sha256Hex(files[i]), added[i].Sha256);
            using var copy = new MemoryStream();
            await Models.CopyFileToAsync(name, added[i].Version, copy, Ct);
            Assert.Equal(files[i], copy.ToArray());
        }
    }

    [Fact]
    public async Task ModelFileRoundTripsByteForByte()
    {
        var name = UniqueModel();
        var file = RandomBytes(3 * 1024 * 1024 + 12_345, seed: 7);

        var added = await Models.AddVersionAsync(NewModel(name), new NonSeekableStream(file), Ct);
        using var copy = new MemoryStream();
        await Models.CopyFileToAsync(name, added.Version, copy, Ct);

        Assert.Equal(file.Length, added.SizeBytes);
        Assert.Equal(Sha256Hex(file), added.Sha256);
        Assert.Equal(file.Length, copy.Length);
        Assert.Equal(Sha256Hex(file), Sha256Hex(copy.ToArray()));
        Assert.True(file.AsSpan().SequenceEqual(copy.ToArray()));
        AssertSameModel(added, (await Models.GetVersionAsync(name, added.Version, Ct))!);
    }

    [Fact]
    public async Task EmptyModelFileRoundTrips()
    {
        var name = UniqueModel();

        var added = await Models.AddVersionAsync(NewModel(name), new MemoryStream(), Ct);
        using var copy = new MemoryStream();
        await Models.CopyFileToAsync(name, added.Version, copy, Ct);

        Assert.Equal(0, added.SizeBytes);
        Assert.Equal(Sha256Hex([]), added.Sha256);
        Assert.Equal(0, copy.Length);
    }

    [Fact]
    public async Task UnknownModelFileThrowsKeyNotFound()
    {
        var name = UniqueModel();
        await Models.AddVersionAsync(NewModel(name), new MemoryStream([1]), Ct);

        await Assert.ThrowsAsync<KeyNotFoundException>(() => Models.CopyFileToAsync(name, 2, Stream.Null, Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Models.CopyFileToAsync(UniqueModel(), 1, Stream.Null, Ct));
    }

    [Fact]
    public async Task RegisteringTheModelOfOneTrainingJobTwiceKeepsOneVersionWithItsTrainingInfo()
    {
        var name = UniqueModel();
        var jobId = Guid.NewGuid();
        var info = new ModelTrainingInfo
        {
            TrainingJobId = jobId,
            DatasetFingerprint = "sha256:" + new string('a', 64),
            Task = TrainingTask.MulticlassClassification,
            LabelColumn = "species",
            FeatureColumns = ["a", "b"],
            ClassLabels = ["x", "y", "z"],
            Architecture = new TrainingArchitecture { HiddenSizes = [8], Activation = HiddenActivation.Tanh },
            Hyperparameters = new TrainingHyperparameters { Epochs = 3 },
            Metrics = new Dictionary<string, double> { ["val_accuracy"] = 0.96, ["onnx_max_abs_diff"] = 1.2e-7 },
            Device = "cpu",
        };
        var model = NewModel(name) with { Training = info };

        var first = await Models.AddVersionAsync(model, new MemoryStream([1, 2, 3]), Ct);
        var again = await Models.AddVersionAsync(model, new MemoryStream([4, 5, 6, 7]), Ct);

        Assert.Equal(1, first.Version);
        Assert.Equal(1, again.Version);
        Assert.Equal(3, again.SizeBytes);
        var stored = Assert.Single(await Models.ListAsync(name, Ct));
        Assert.Equal(jobId, stored.Training!.TrainingJobId);
        Assert.Equal(info.ClassLabels, stored.Training.ClassLabels);
        Assert.Equal(info.Architecture.HiddenSizes, stored.Training.Architecture.HiddenSizes);
        Assert.Equal(0.96, stored.Training.Metrics["val_accuracy"]);
        Assert.Equal(1, (await Models.GetVersionByTrainingJobAsync(name, jobId, Ct))!.Version);
        Assert.Null(await Models.GetVersionByTrainingJobAsync(name, Guid.NewGuid(), Ct));
        Assert.Null(await Models.GetVersionByTrainingJobAsync(name + "-other", jobId, Ct));

        // Versions without training info are not affected by the idempotency key.
        Assert.Equal(2, (await Models.AddVersionAsync(NewModel(name), new MemoryStream([9]), Ct)).Version);
        Assert.Null((await Models.GetVersionAsync(name, 2, Ct))!.Training);
    }
}
