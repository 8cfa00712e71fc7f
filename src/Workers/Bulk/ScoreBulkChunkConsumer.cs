using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Consumers;
using AIaaS.Queue.Workers.Explanations;
using AIaaS.Queue.Workers.Inference;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// Scores one stored chunk of a bulk job and stores its output and error lines with its counts, once: a redelivered
/// chunk is scored again but counted only the first time. A chunk of a cancelled or expired job is skipped. Whoever
/// stores the last chunk of a fully split file asks for the job to be finalized.
/// </summary>
internal sealed class ScoreBulkChunkConsumer(
    IBulkStore bulk,
    ModelCache models,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    StoreOutage outage,
    AiaasMetrics metrics,
    ILogger<ScoreBulkChunkConsumer> logger) : IConsumer<ScoreBulkChunk>
{
    public async Task Consume(ConsumeContext<ScoreBulkChunk> context)
    {
        var message = context.Message;
        var cancellationToken = context.CancellationToken;
        var tenantId = Tenants.OfMessage(message.TenantId, message.Model);
        var job = await bulk.GetBulkJobAsync(tenantId, message.BulkJobId, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidJobException($"Bulk job {message.BulkJobId} is not stored; its chunk {message.ChunkIndex} cannot be scored.");
        if (job.IsFinal)
        {
            return;
        }

        var result = job.Status is BulkJobStatus.Cancelling || job.ExpiresAt <= time.GetUtcNow()
            ? BulkChunkResult.SkippedChunk
            : await ScoreAsync(tenantId, message, cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            return; // already recorded and its input removed: a late duplicate
        }

        var stage = System.Diagnostics.Stopwatch.GetTimestamp();
        var progress = await outage.WriteAsync(() => bulk.SaveBulkChunkResultAsync(tenantId, message.BulkJobId, message.ChunkIndex, result, cancellationToken),
            $"the results of chunk {message.ChunkIndex} of bulk job {message.BulkJobId}").ConfigureAwait(false);
        metrics.StageTimed("bulk.chunk_store_write", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
        await SubmitBulkJobConsumer.FinalizeIfDoneAsync(context, tenantId, message.BulkJobId, progress.AllChunksDone).ConfigureAwait(false);
    }

    private async Task<BulkChunkResult?> ScoreAsync(string tenantId, ScoreBulkChunk message, CancellationToken cancellationToken)
    {
        var stage = System.Diagnostics.Stopwatch.GetTimestamp();
        var payload = await bulk.GetBulkChunkInputAsync(tenantId, message.BulkJobId, message.ChunkIndex, cancellationToken).ConfigureAwait(false);
        metrics.StageTimed("bulk.chunk_store_read", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
        if (payload is null)
        {
            return null;
        }

        ModelLease lease;
        try
        {
            lease = await models.RentAsync(message.Model, message.ModelVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ModelNotSupportedException)
        {
            // The version the job started with is gone or unusable: its records fail with the reason, the job goes on.
            var unreadable = BulkChunk.Read(payload, BulkChunk.ValuesPerRecordOf(payload));
            return BulkChunkScorer.FailAll(unreadable, ex.Message);
        }

        using var held = lease;
        var model = lease.Model;
        stage = System.Diagnostics.Stopwatch.GetTimestamp();
        var chunk = BulkChunk.Read(payload, BulkChunk.ValuesPerRecordFor(model));
        metrics.StageTimed("bulk.chunk_parse", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var batchSize = model.BatchMode == BatchMode.Dynamic ? options.Value.BulkBatchSize : 1;
        var limits = new InputLimits(options.Value.MaxInputValues, options.Value.MaxInputBytes);
        var explainer = message.Explain is { } explain && ModelExplanations.Problem(model) is null && ModelExplanations.OptionsProblem(explain) is null
            ? ModelExplanations.Create(model, explain, options.Value.ExplainRowsPerCall)
            : null;
        var result = await Task.Run(() => BulkChunkScorer.Score(model, chunk, batchSize, limits, explainer, metrics.StageTimed), cancellationToken).ConfigureAwait(false);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        logger.LogDebug("Bulk job {BulkJobId} chunk {Chunk}: {Succeeded} scored, {Failed} failed in {Elapsed} ms",
            message.BulkJobId, message.ChunkIndex, result.Succeeded, result.Failed, (int)elapsed.TotalMilliseconds);
        return result;
    }
}

internal sealed class ScoreBulkChunkConsumerDefinition : ConsumerDefinition<ScoreBulkChunkConsumer>
{
    private readonly WorkerOptions _options;

    public ScoreBulkChunkConsumerDefinition(IOptions<WorkerOptions> options)
    {
        _options = options.Value;
        EndpointName = "bulk-chunks";
        ConcurrentMessageLimit = _options.BulkConcurrency;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ScoreBulkChunkConsumer> consumerConfigurator, IRegistrationContext context)
    {
        // Chunks are large units of work: holding more than the worker scores at once would only keep them from idle workers.
        endpointConfigurator.PrefetchCount = _options.BulkConcurrency;
        endpointConfigurator.UseTransientRetry(typeof(InvalidJobException), typeof(InvalidDataException));
    }
}
