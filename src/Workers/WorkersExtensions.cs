using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Batching;
using AIaaS.Queue.Workers.Bulk;
using AIaaS.Queue.Workers.Consumers;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Security;
using AIaaS.Queue.Workers.Training;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AIaaS.Queue.Workers;

public static class WorkersExtensions
{
    /// <summary>A worker host: store, model runtime and the predict consumers on the configured transport.</summary>
    public static IHostApplicationBuilder AddWorkers(this IHostApplicationBuilder builder)
    {
        builder.Configuration.UseLocalBrokerUnlessConfigured();

        builder.Services.AddAiaasStore();
        builder.Services.AddWorkerServices();
        builder.Services.AddAiaasBus(builder.Configuration, x => x.AddWorkerConsumers(builder.Configuration));
        builder.Services.AddHostedService<WorkerStartupLog>();
        builder.Services.AddHostedService<LegacyRegistryBinding>();
        return builder;
    }

    /// <summary>The services the worker consumers need; call before the bus is added so that batchers stop after it.</summary>
    public static IServiceCollection AddWorkerServices(this IServiceCollection services)
    {
        services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OnnxSessionFactory>();
        services.TryAddSingleton<ModelCache>();
        services.TryAddSingleton<StoreOutage>();
        services.TryAddSingleton<ResponseCache>();
        services.TryAddSingleton<CachedAnswers>();
        services.TryAddSingleton<ResultWriter>();
        services.TryAddSingleton<BatchExecutor>();
        services.TryAddSingleton<BatcherRegistry>();
        services.TryAddSingleton<Explanations.ExplanationRunner>();
        services.AddOptions<SecurityOptions>().BindConfiguration(SecurityOptions.SectionName);
        services.TryAddSingleton<SenderVerifier>();
        services.TryAddSingleton<SenderRefusals>();
        services.TryAddSingleton<JobRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<BatcherRegistry>());
        services.AddTrainingServices();
        return services;
    }

    public static void AddWorkerConsumers(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        bus.AddConsumer<PredictJobConsumer, PredictJobConsumerDefinition>();
        bus.AddConsumer<ExplainJobConsumer, ExplainJobConsumerDefinition>();
        bus.AddConsumer<TrainJobConsumer, TrainJobConsumerDefinition>();
        bus.AddConsumer<CancelJobConsumer, CancelJobConsumerDefinition>();
        bus.AddConsumer<SubmitBulkJobConsumer, SubmitBulkJobConsumerDefinition>();
        bus.AddConsumer<ScoreBulkChunkConsumer, ScoreBulkChunkConsumerDefinition>();
        bus.AddConsumer<BulkJobFinalizer, BulkJobFinalizerDefinition>();
        if (configuration.GetValue($"{WorkerOptions.SectionName}:{nameof(WorkerOptions.RegisterQueuedJobs)}", true))
        {
            bus.AddConsumer<JobRegistrationConsumer, JobRegistrationConsumerDefinition>();
            if (configuration.GetValue($"{WorkerOptions.SectionName}:{nameof(WorkerOptions.RegisterEveryCommand)}", false))
            {
                bus.AddConsumer<CommandRegistrationConsumer, CommandRegistrationConsumerDefinition>();
            }
        }
    }
}
