using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using MassTransit;

namespace AIaaS.Queue.Workers.Training;

/// <summary>
/// Takes a submitted train job off the broker into the store's train queue and acknowledges it at once: training can
/// run for hours, far past RabbitMQ's consumer acknowledgement timeout, so no message is held while it runs. The
/// store's lease then keeps the job alive and hands it to another worker if this one dies.
/// </summary>
internal sealed class TrainJobConsumer(ITrainingStore training, IJobStore jobs, TrainingRunner runner, TimeProvider time)
    : IConsumer<SubmitTrainJob>
{
    public async Task Consume(ConsumeContext<SubmitTrainJob> context)
    {
        var job = context.Message;
        if (job.JobId == Guid.Empty)
        {
            return;
        }

        if (SubmissionRules.TrainJobProblem(job) is { } problem)
        {
            await jobs.InsertIfAbsentAsync([new JobRecord
            {
                JobId = job.JobId,
                Kind = JobKind.Train,
                Model = job.Model ?? "",
                Status = JobStatus.Failed,
                SubmittedAt = job.SubmittedAt,
                CompletedAt = time.GetUtcNow(),
                Error = problem,
            }], context.CancellationToken).ConfigureAwait(false);
            await training.AppendJobEventsAsync(job.JobId,
                [new JobEventView { Sequence = 0, Type = "failed", At = time.GetUtcNow(), Message = problem }], context.CancellationToken).ConfigureAwait(false);
            return;
        }

        if (await training.EnqueueTrainJobAsync(job, context.CancellationToken).ConfigureAwait(false))
        {
            runner.Wake();
        }
    }
}

internal sealed class TrainJobConsumerDefinition : ConsumerDefinition<TrainJobConsumer>
{
    public TrainJobConsumerDefinition()
    {
        EndpointName = "train-jobs";
        ConcurrentMessageLimit = 4;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TrainJobConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 8;
        endpointConfigurator.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(400)));
    }
}
