using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Consumers;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers.Bulk;

/// <summary>
/// Closes a bulk job whose chunks are all done: finalizing, then removes the stored chunk inputs, announces the end
/// (<see cref="BulkJobFinished"/>, which becomes the <c>batch.*</c> webhook) and writes the final state. The event goes
/// out before the final state is written, so a crash in between repeats the event (receivers get at-least-once
/// anyway) rather than losing it. Final state: cancelled when a cancel was asked for, expired when the completion
/// window left chunks unscored, otherwise succeeded, with failed records counted and listed in the error file.
/// </summary>
internal sealed class BulkJobFinalizer(IBulkStore bulk, TimeProvider time, StoreOutage outage, ILogger<BulkJobFinalizer> logger)
    : IConsumer<FinalizeBulkJob>
{
    private static readonly BulkJobStatus[] Open = [BulkJobStatus.Validating, BulkJobStatus.Running, BulkJobStatus.Cancelling, BulkJobStatus.Finalizing];

    public async Task Consume(ConsumeContext<FinalizeBulkJob> context)
    {
        var cancellationToken = context.CancellationToken;
        // Bulk job ids are per tenant; a message of an older worker names none and is read as the default tenant's.
        var job = await bulk.GetBulkJobAsync(Tenants.OrDefault(context.Message.TenantId), context.Message.BulkJobId, cancellationToken).ConfigureAwait(false);
        if (job is null || job.IsFinal || !job.AllChunksDone)
        {
            return;
        }

        var final = job.Status == BulkJobStatus.Cancelling ? BulkJobStatus.Cancelled : FinalStatusOf(job);
        if (final != BulkJobStatus.Cancelled && job.Status != BulkJobStatus.Finalizing)
        {
            // What clients see while the job closes. A cancelled job goes straight to its final state, so that a
            // redelivery of this message still knows it was cancelled.
            job = await bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, Open, BulkJobStatus.Finalizing, cancellationToken: cancellationToken)
                .ConfigureAwait(false) ?? job;
        }

        await bulk.DeleteBulkChunkInputsAsync(job.TenantId, job.BulkJobId, cancellationToken).ConfigureAwait(false);
        var error = final == BulkJobStatus.Expired
            ? $"The completion window ended at {job.ExpiresAt:O} before every record was scored; the output holds the {job.Succeeded} that were."
            : null;
        var ending = job with { Status = final, Error = error, CompletedAt = time.GetUtcNow() };
        await context.Publish(FinishedEvent(ending, ending.CompletedAt!.Value), cancellationToken).ConfigureAwait(false);
        var finished = await outage.WriteAsync(() => bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, Open, final, error: error, cancellationToken: cancellationToken),
            $"the end of bulk job {job.BulkJobId}").ConfigureAwait(false);
        logger.LogInformation("Bulk job {BulkJobId} {Status}: {Succeeded} scored, {Failed} failed of {Total}",
            job.BulkJobId, finished?.Status, finished?.Succeeded, finished?.Failed, finished?.Total);
    }

    private BulkJobStatus FinalStatusOf(BulkJobRecord job) =>
        job.ChunksSkipped > 0 && job.ExpiresAt <= time.GetUtcNow() ? BulkJobStatus.Expired : BulkJobStatus.Succeeded;

    public static BulkJobFinished FinishedEvent(BulkJobRecord job, DateTimeOffset at) => new()
    {
        BulkJobId = job.BulkJobId,
        TenantId = job.TenantId,
        Model = job.Model,
        ModelVersion = job.ModelVersion,
        Status = job.Status,
        Counts = new BulkJobCounts { Total = job.Total, Succeeded = job.Succeeded, Failed = job.Failed },
        Error = job.Error,
        FinishedAt = at,
    };
}

internal sealed class BulkJobFinalizerDefinition : ConsumerDefinition<BulkJobFinalizer>
{
    public BulkJobFinalizerDefinition()
    {
        EndpointName = "bulk-finalize";
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<BulkJobFinalizer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseTransientRetry(typeof(InvalidJobException));
    }
}
