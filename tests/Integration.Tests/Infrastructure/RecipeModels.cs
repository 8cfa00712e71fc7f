using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Store;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>Models registered with a recipe straight through the store (as the API's registration will), and jobs that carry
/// text or an image, published as the SDK publishes.</summary>
internal static class RecipeModels
{
    public static async Task<string> RegisterAsync(DistributedSystem system, string prefix, string path, ModelRecipe recipe,
        string? vocabulary, BatchingSettings? batching, CancellationToken ct)
    {
        var name = TestModels.UniqueName(prefix);
        var signature = OnnxModelInspector.Inspect(path);
        await using var file = File.OpenRead(path);
        await system.ApiServices.GetRequiredService<IModelStore>().AddVersionAsync(new NewModelVersion
        {
            Name = name,
            Inputs = signature.Inputs,
            Outputs = signature.Outputs,
            Batching = batching,
            Recipe = recipe,
            Vocabulary = vocabulary,
        }, file, ct);
        return name;
    }

    /// <summary>Publishes every job at once, so that they meet in the worker's batcher; answers their ids in order.</summary>
    public static async Task<Guid[]> SubmitAsync(DistributedSystem system, IEnumerable<SubmitPredictJob> jobs, CancellationToken ct)
    {
        var list = jobs.ToList();
        await Task.WhenAll(list.Select(job => system.ClientBus.Publish(job, ct)));
        return [.. list.Select(j => j.JobId)];
    }

    public static SubmitPredictJob Text(string model, string text) =>
        new() { JobId = Guid.CreateVersion7(), Model = model, Text = text, SubmittedAt = DateTimeOffset.UtcNow };

    public static SubmitPredictJob Image(string model, string base64) =>
        new() { JobId = Guid.CreateVersion7(), Model = model, Image = base64, SubmittedAt = DateTimeOffset.UtcNow };

    public static async Task<JobView[]> WaitAllAsync(DistributedSystem system, IEnumerable<Guid> ids, CancellationToken ct) =>
        await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
}
