using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>Models registered with a recipe through the API (the SDK's multipart upload, so that the registration's recipe
/// rules see every model the worker tests serve), and jobs that carry text or an image, published as the SDK publishes.</summary>
internal static class RecipeModels
{
    public static async Task<string> RegisterAsync(DistributedSystem system, string prefix, string path, ModelRecipe recipe,
        string? vocabulary, BatchingSettings? batching, CancellationToken ct)
    {
        var name = TestModels.UniqueName(prefix);
        await using var file = File.OpenRead(path);
        await using var vocab = vocabulary is null ? null : new MemoryStream(Encoding.UTF8.GetBytes(vocabulary));
        await system.Client.RegisterModelAsync(name, file, recipe, vocab, batching, cancellationToken: ct);
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
