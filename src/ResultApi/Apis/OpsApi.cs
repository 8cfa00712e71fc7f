using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Dashboard;
using AIaaS.Queue.ResultApi.Retention;
using AIaaS.Queue.Store;
using AIaaS.Queue.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>What operators watch: queues, recent throughput and batch sizes, models loaded in this process.</summary>
public static class OpsApi
{
    public static IEndpointRouteBuilder MapOpsApi(this IEndpointRouteBuilder app, QueueInspector queues, RecentBatches batches)
    {
        var api = app.MapGroup("/v1/ops").WithTags("Operations");
        api.MapGet("/queues", (CancellationToken ct) => GetQueues(queues, ct)).WithName("GetQueues")
            .WithSummary("Depth, unacknowledged messages and consumers of each queue (RabbitMQ management API, else passive declares).");
        api.MapGet("/throughput", (int? minutes) => GetThroughput(batches, minutes)).WithName("GetThroughput")
            .WithSummary("Jobs, batches and batch sizes per minute over the last minutes, and totals per worker and model.");
        api.MapGet("/batches/{batchId}", (string batchId) => GetBatch(batches, batchId)).WithName("GetBatch")
            .WithSummary("A recent batch as its worker reported it: worker, size, model time, the jobs in it.");
        api.MapGet("/loaded-models", GetLoadedModels).WithName("GetLoadedModels")
            .WithSummary("Model versions loaded in this process (when it hosts the workers).");
        api.MapGet("/storage", GetStorage).WithName("GetStorage")
            .WithSummary("The store's size (used and free bytes) and what the retention sweeper removed in its last run.");
        return app;
    }

    public static async Task<Ok<QueuesView>> GetQueues(QueueInspector queues, CancellationToken cancellationToken) =>
        TypedResults.Ok(await queues.GetQueuesAsync(cancellationToken));

    public static Results<Ok<ThroughputView>, ProblemHttpResult> GetThroughput(RecentBatches batches, int? minutes)
    {
        var window = (int)batches.Window.TotalMinutes;
        if (minutes is { } m && (m < 1 || m > window))
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "Invalid request", $"minutes must be between 1 and {window}.");
        }

        return TypedResults.Ok(batches.Summarize(minutes ?? window));
    }

    public static Results<Ok<PredictBatchCompleted>, ProblemHttpResult> GetBatch(RecentBatches batches, string batchId) =>
        batches.Find(batchId) is { } batch
            ? TypedResults.Ok(batch)
            : Problems.Create(StatusCodes.Status404NotFound, "Unknown batch", $"Batch {batchId} is not among the batches of the last {batches.Window.TotalMinutes} minutes.");

    public static async Task<Ok<StorageView>> GetStorage(IRetentionStore store, IOptions<RetentionOptions> retention, CancellationToken cancellationToken) =>
        TypedResults.Ok(new StorageView
        {
            Size = await store.GetSizeAsync(cancellationToken),
            LastSweep = await store.GetSweepReportAsync(cancellationToken),
            RetentionConfigured = retention.Value.ExpiresAnything,
            SweepInterval = retention.Value.SweepInterval,
        });

    public static Ok<IReadOnlyList<LoadedModelInfo>> GetLoadedModels(AiaasMetrics metrics) => TypedResults.Ok(metrics.LoadedModels);
}

/// <summary>What <c>GET /v1/ops/storage</c> shows: the store's size and the last retention sweep.</summary>
public sealed record StorageView
{
    public required StoreSize Size { get; init; }

    /// <summary>Null before the first sweep (or when no period is configured).</summary>
    public SweepReport? LastSweep { get; init; }

    public required bool RetentionConfigured { get; init; }
    public required TimeSpan SweepInterval { get; init; }
}
