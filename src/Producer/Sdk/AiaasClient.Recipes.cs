using System.Net.Http.Headers;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

internal sealed partial class AiaasClient
{
    public async Task<ModelView> RegisterModelAsync(string name, Stream onnxFile, ModelRecipe recipe, Stream? vocabulary,
        BatchingSettings? batching = null, string? description = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onnxFile);
        ArgumentNullException.ThrowIfNull(recipe);
        // The parts PUT /v1/models/{name} reads; the labels travel inside the recipe.
        using var form = ModelForm(onnxFile);
        form.Add(JsonContent.Create(recipe, options: WireJson.Options), "recipe");
        if (vocabulary is not null)
        {
            var vocab = new StreamContent(vocabulary);
            vocab.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
            form.Add(vocab, "vocab", "vocab.txt");
        }

        using var response = await http.PutAsync(RegistrationUri(name, batching, description), form, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<ModelView>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A multipart registration body with its <c>model</c> part, the ONNX file; the caller adds the others.</summary>
    private static MultipartFormDataContent ModelForm(Stream onnxFile)
    {
        var form = new MultipartFormDataContent();
        var model = new StreamContent(onnxFile);
        model.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(model, "model", "model.onnx");
        return form;
    }

    public async Task<float[]> EmbedAsync(string model, string text, CancellationToken cancellationToken = default)
    {
        var result = await PredictAsync(new PredictRequest { Model = model, Text = text }, cancellationToken).ConfigureAwait(false);
        return result.Outputs.Named("embedding").ToFloats();
    }

    public async Task<IReadOnlyList<float[]>> EmbedManyAsync(string model, IEnumerable<string> texts, CancellationToken cancellationToken = default)
    {
        var ids = await SubmitPredictManyAsync(texts.Select(text => new PredictRequest { Model = model, Text = text }), cancellationToken)
            .ConfigureAwait(false);
        var jobs = await Task.WhenAll(ids.Select(id => WaitForCompletionAsync(id, cancellationToken))).ConfigureAwait(false);
        if (Array.Find(jobs, job => job.Status != JobStatus.Succeeded) is { } failed)
        {
            throw new JobFailedException(failed);
        }

        var embeddings = new float[ids.Count][];
        for (var i = 0; i < ids.Count; i++)
        {
            embeddings[i] = (await GetOutputAsync(ids[i], cancellationToken).ConfigureAwait(false)).Outputs.Named("embedding").ToFloats();
        }

        return embeddings;
    }

    public async Task<Classification> ClassifyAsync(string model, string text, CancellationToken cancellationToken = default) =>
        Classification.FromOutputs((await PredictAsync(new PredictRequest { Model = model, Text = text }, cancellationToken).ConfigureAwait(false)).Outputs);

    public async Task<Classification> ClassifyImageAsync(string model, byte[] image, CancellationToken cancellationToken = default) =>
        Classification.FromOutputs((await PredictAsync(new PredictRequest { Model = model, Image = image }, cancellationToken).ConfigureAwait(false)).Outputs);
}
