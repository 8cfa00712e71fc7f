using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Consumers;
using AIaaS.Queue.Workers.Explanations;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Security;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// Starts a bulk job: resolves its model version once, reads the stored file record by record, checks each record
/// against the model's inputs, and stores the records in chunks, announcing each with a <see cref="ScoreBulkChunk"/>
/// as soon as it is stored, so that scoring starts while the file is still being read. A file that cannot be used
/// fails the job with the reason; a bad record only goes to the error file.
/// </summary>
/// <remarks>
/// Chunks are a fixed function of the file and the job's chunk size, and storing a chunk counts it once, so a
/// redelivery after a crash re-splits the file into the same chunks without counting a record twice; chunk
/// messages published again are skipped by the chunk's own idempotency.
/// </remarks>
internal sealed class SubmitBulkJobConsumer(
    IBulkStore bulk,
    IDatasetStore files,
    ModelCache models,
    SenderVerifier senders,
    SenderRefusals refusals,
    StoreOutage outage,
    TimeProvider time,
    Microsoft.Extensions.Options.IOptions<WorkerOptions> options,
    AiaasMetrics metrics,
    ILogger<SubmitBulkJobConsumer> logger) : IConsumer<SubmitBulkJob>
{
    public async Task Consume(ConsumeContext<SubmitBulkJob> context)
    {
        var request = context.Message;
        if (request.BulkJobId == Guid.Empty)
        {
            throw new InvalidJobException("BulkJobId is missing or empty; the bulk job cannot be tracked.");
        }

        var cancellationToken = context.CancellationToken;
        var sender = await senders.VerifyAsync(request.Sender, ApiKeyFormat.BulkPurpose, request.BulkJobId, cancellationToken).ConfigureAwait(false);
        if (!sender.Accepted)
        {
            throw refusals.Refuse(nameof(SubmitBulkJob), request.BulkJobId, sender);
        }

        var job = await GetOrCreateAsync(request, sender.TenantId, cancellationToken).ConfigureAwait(false);

        if (SubmissionRules.ModelNameProblem(request.Model) is { } refusal)
        {
            await FailAsync(context, job, refusal).ConfigureAwait(false);
            return;
        }

        if (job.IsFinal || job.ChunksTotal is not null)
        {
            // Already split (this is a redelivery): make sure a job whose chunks are all done gets closed.
            await FinalizeIfDoneAsync(context, job.TenantId, job.BulkJobId, job.AllChunksDone).ConfigureAwait(false);
            return;
        }

        if (await ShouldStopAsync(job, cancellationToken).ConfigureAwait(false) is { } stop)
        {
            await StopSplitAsync(context, job, 0, stop, cancellationToken).ConfigureAwait(false);
            return;
        }

        ModelLease lease;
        try
        {
            lease = await models.RentAsync(job.Model, job.ModelVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ModelNotFoundException or ModelNotSupportedException)
        {
            await FailAsync(context, job, ex.Message).ConfigureAwait(false);
            return;
        }

        // Held through the split, which reads the file with the model's inputs.
        using var held = lease;
        var model = lease.Model;

        // An explanation that cannot be made would fail every record for the same reason: the job fails once, with it.
        if (request.Explain is { } explain && (ModelExplanations.OptionsProblem(explain) ?? ModelExplanations.Problem(model)) is { } unexplainable)
        {
            await FailAsync(context, job, unexplainable).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(job.InputFileId) || await files.GetDatasetAsync(job.TenantId, job.InputFileId, cancellationToken).ConfigureAwait(false) is null)
        {
            await FailAsync(context, job, $"Input file '{job.InputFileId}' is not stored; upload it first (POST /v1/datasets or POST /v1/batches with the file as body).")
                .ConfigureAwait(false);
            return;
        }

        var local = Path.Combine(Path.GetTempPath(), $"aiaas-bulk-{job.BulkJobId:N}-{Guid.NewGuid():N}");
        try
        {
            // The claim check is redeemed once, to local disk: reading from there keeps memory flat for any file size.
            var stage = System.Diagnostics.Stopwatch.GetTimestamp();
            await using (var copy = new FileStream(local, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await files.CopyDatasetToAsync(job.TenantId, job.InputFileId, copy, cancellationToken).ConfigureAwait(false);
            }

            metrics.StageTimed("bulk.copy_input", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
            stage = System.Diagnostics.Stopwatch.GetTimestamp();
            await SplitAsync(context, job, model, local, cancellationToken).ConfigureAwait(false);
            metrics.StageTimed("bulk.split", System.Diagnostics.Stopwatch.GetElapsedTime(stage));
        }
        catch (InvalidBulkFileException ex)
        {
            await FailAsync(context, job, ex.Message).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            // A gzip stream that is not one: the file as a whole is unusable.
            await FailAsync(context, job, $"The file could not be read: {ex.Message}").ConfigureAwait(false);
        }
        finally
        {
            File.Delete(local);
        }
    }

    private async Task SplitAsync(ConsumeContext<SubmitBulkJob> context, BulkJobRecord job, LoadedModel model, string path, CancellationToken cancellationToken)
    {
        var chunkSize = Math.Clamp(job.ChunkSize ?? SubmitBulkJob.DefaultChunkSize, 1, SubmitBulkJob.MaxChunkSize);
        using var reader = BulkRecordReader.Open(
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), job.Format, model,
            new InputLimits(options.Value.MaxInputValues, options.Value.MaxInputBytes),
            new BulkFileLimits(options.Value.MaxBulkDecompressedBytes, options.Value.MaxBulkRecords));
        var values = new float[Math.Max(0, reader.ValuesPerRecord)];
        // Two chunks in turn: one is stored and announced while the next is parsed (the bulk profile found the split, parsing
        // and then waiting for each chunk's store write and publish confirm, to be what a file's scoring waited for).
        using var first = new BulkChunk.Writer(reader.ValuesPerRecord);
        using var second = new BulkChunk.Writer(reader.ValuesPerRecord);
        var chunk = first;
        Task<BulkJobStatus?>? inFlight = null;
        // Tensor and recipe records vary in size: a chunk closes once the next record could take it past the byte bound.
        var recordBytes = 64L + (reader.ValuesPerRecord < 0 ? 64 * 1024 : reader.ValuesPerRecord * sizeof(float));
        var chunks = 0;
        var started = false;
        try
        {
            while (reader.TryRead(values, out var record))
            {
                chunk.Add(record, values);
                if (chunk.Count < chunkSize && chunk.Bytes + recordBytes < SubmitBulkJob.MaxChunkBytes)
                {
                    continue;
                }

                if (!started)
                {
                    // Before the first chunk goes out, so that a re-split after a crash uses the version pinned here.
                    job = await StartAsync(job, model, reader.Format, cancellationToken).ConfigureAwait(false);
                    started = true;
                }

                // The chunk before is stored and announced (and the job checked) before this one goes, so chunks still go out
                // one at a time and in order, and a stop is seen one chunk later at most, as before.
                if (inFlight is not null && await inFlight.ConfigureAwait(false) is { } stop)
                {
                    inFlight = null;
                    await StopSplitAsync(context, job, chunks, stop, cancellationToken).ConfigureAwait(false);
                    return;
                }

                inFlight = PublishChunkAndCheckAsync(context, job, model, chunks++, chunk, cancellationToken);
                chunk = chunk == first ? second : first;
                if (!options.Value.OverlappedBulkSplit)
                {
                    await inFlight.ConfigureAwait(false);
                }
            }
        }
        catch (Exception) when (inFlight is not null)
        {
            // A file that turns out unreadable fails the job; the chunk on its way finishes first, as it did before.
            await Task.WhenAny(inFlight).ConfigureAwait(false);
            throw;
        }

        if (inFlight is not null && await inFlight.ConfigureAwait(false) is { } stopped)
        {
            await StopSplitAsync(context, job, chunks, stopped, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (chunk.Count == 0 && chunks == 0)
        {
            await FailAsync(context, job, "The file has no records.").ConfigureAwait(false);
            return;
        }

        if (!started)
        {
            job = await StartAsync(job, model, reader.Format, cancellationToken).ConfigureAwait(false);
        }

        if (chunk.Count > 0)
        {
            await PublishChunkAsync(context, job, model, chunks++, chunk, cancellationToken).ConfigureAwait(false);
        }

        logger.LogInformation("Bulk job {BulkJobId} split into {Chunks} chunks for {Model} v{Version}", job.BulkJobId, chunks, model.Name, model.Version);
        await CompleteSplitAsync(context, job, chunks, cancellationToken).ConfigureAwait(false);
    }

    private async Task<BulkJobStatus?> PublishChunkAndCheckAsync(ConsumeContext<SubmitBulkJob> context, BulkJobRecord job, LoadedModel model, int index,
        BulkChunk.Writer chunk, CancellationToken cancellationToken)
    {
        await PublishChunkAsync(context, job, model, index, chunk, cancellationToken).ConfigureAwait(false);
        return await ShouldStopAsync(job, cancellationToken).ConfigureAwait(false);
    }

    private async Task PublishChunkAsync(ConsumeContext<SubmitBulkJob> context, BulkJobRecord job, LoadedModel model, int index, BulkChunk.Writer chunk,
        CancellationToken cancellationToken)
    {
        // Through a store outage the split waits with its place in the file, rather than starting over on redelivery.
        await outage.WriteAsync(() => bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, index, chunk.Count, chunk.ToPayload(), cancellationToken),
            $"chunk {index} of bulk job {job.BulkJobId}").ConfigureAwait(false);
        await context.Publish(new ScoreBulkChunk
        {
            BulkJobId = job.BulkJobId,
            TenantId = job.TenantId,
            ChunkIndex = index,
            Model = model.Name,
            ModelVersion = model.Version,
            RecordCount = chunk.Count,
            Explain = context.Message.Explain,
        }, cancellationToken).ConfigureAwait(false);
        chunk.Reset();
    }

    /// <summary>Validating → running, pinning the model version every chunk uses. A job cancelled meanwhile stays cancelling.</summary>
    private async Task<BulkJobRecord> StartAsync(BulkJobRecord job, LoadedModel model, BulkInputFormat format, CancellationToken cancellationToken)
    {
        logger.LogInformation("Bulk job {BulkJobId} running: {Format} file for {Model} v{Version}", job.BulkJobId, format, model.Name, model.Version);
        return await bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Validating], BulkJobStatus.Running, model.Version,
            format: format, cancellationToken: cancellationToken).ConfigureAwait(false) ?? job;
    }

    /// <summary>Whether splitting should stop now: the job was cancelled, or its completion window has ended.</summary>
    private async Task<BulkJobStatus?> ShouldStopAsync(BulkJobRecord job, CancellationToken cancellationToken)
    {
        if (job.ExpiresAt is { } expiresAt && expiresAt <= time.GetUtcNow())
        {
            return BulkJobStatus.Expired;
        }

        var current = await bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, cancellationToken).ConfigureAwait(false);
        return current?.Status is BulkJobStatus.Cancelling or BulkJobStatus.Cancelled ? BulkJobStatus.Cancelled : null;
    }

    /// <summary>Ends the split early. For an expiry, the rest of the file counts as one skipped chunk, which is what
    /// tells the finalizer that work was left undone (a cancel says so by the job's status).</summary>
    private async Task StopSplitAsync(ConsumeContext context, BulkJobRecord job, int chunks, BulkJobStatus why, CancellationToken cancellationToken)
    {
        logger.LogInformation("Bulk job {BulkJobId} stops splitting after {Chunks} chunks: {Why}", job.BulkJobId, chunks,
            why == BulkJobStatus.Expired ? "its completion window ended" : "it was cancelled");
        if (why == BulkJobStatus.Expired)
        {
            await bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, chunks++, BulkChunkResult.SkippedChunk, cancellationToken).ConfigureAwait(false);
        }

        await CompleteSplitAsync(context, job, chunks, cancellationToken).ConfigureAwait(false);
    }

    private async Task CompleteSplitAsync(ConsumeContext context, BulkJobRecord job, int chunks, CancellationToken cancellationToken)
    {
        var progress = await outage.WriteAsync(() => bulk.CompleteBulkSplitAsync(job.TenantId, job.BulkJobId, chunks, cancellationToken),
            $"the end of the split of bulk job {job.BulkJobId}").ConfigureAwait(false);
        await FinalizeIfDoneAsync(context, job.TenantId, job.BulkJobId, progress.AllChunksDone).ConfigureAwait(false);
    }

    internal static Task FinalizeIfDoneAsync(ConsumeContext context, string tenantId, Guid bulkJobId, bool allChunksDone) =>
        allChunksDone ? context.Publish(new FinalizeBulkJob { BulkJobId = bulkJobId, TenantId = tenantId }) : Task.CompletedTask;

    private async Task<BulkJobRecord> GetOrCreateAsync(SubmitBulkJob request, string tenantId, CancellationToken cancellationToken)
    {
        // A job submitted over HTTP is stored by the API; one published straight to the broker is stored here. The model
        // is the tenant's own: its name qualified, so that no tenant can reach another's model.
        await bulk.CreateBulkJobAsync(new BulkJobRecord
        {
            BulkJobId = request.BulkJobId,
            TenantId = tenantId,
            Model = Tenants.StoredModelName(tenantId, request.Model),
            ModelVersion = request.ModelVersion,
            Status = BulkJobStatus.Validating,
            InputFileId = request.InputFileId ?? "",
            Format = request.Format,
            ChunkSize = request.ChunkSize,
            CallbackUrl = request.CallbackUrl,
            ExpiresAt = request.ExpiresAt,
            SubmittedAt = request.SubmittedAt,
        }, cancellationToken).ConfigureAwait(false);
        return await bulk.GetBulkJobAsync(tenantId, request.BulkJobId, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Bulk job {request.BulkJobId} was stored but cannot be read back.");
    }

    private async Task FailAsync(ConsumeContext context, BulkJobRecord job, string reason)
    {
        logger.LogInformation("Bulk job {BulkJobId} failed: {Reason}", job.BulkJobId, reason);
        var failed = await bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Validating, BulkJobStatus.Running, BulkJobStatus.Cancelling],
            BulkJobStatus.Failed, error: reason, cancellationToken: context.CancellationToken).ConfigureAwait(false);
        if (failed is { Status: BulkJobStatus.Failed })
        {
            await StoredEventPublisher.PublishAsync(context, BulkJobFinalizer.FinishedEvent(failed, time.GetUtcNow()), logger, context.CancellationToken)
                .ConfigureAwait(false);
        }
    }
}

internal sealed class SubmitBulkJobConsumerDefinition : ConsumerDefinition<SubmitBulkJobConsumer>
{
    public SubmitBulkJobConsumerDefinition()
    {
        EndpointName = "bulk-jobs";
        // Splitting streams a whole file: one at a time per worker is plenty, and leaves the rest to other workers.
        ConcurrentMessageLimit = 1;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SubmitBulkJobConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 1;
        endpointConfigurator.UseTransientRetry(typeof(InvalidJobException), typeof(UnverifiedSenderException));
    }
}
