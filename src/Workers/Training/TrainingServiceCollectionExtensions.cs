using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AIaaS.Queue.Workers.Training;

internal static class TrainingServiceCollectionExtensions
{
    public static IServiceCollection AddTrainingServices(this IServiceCollection services)
    {
        services.AddOptions<TrainingOptions>().BindConfiguration(TrainingOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<TrainingChildLauncher>();
        services.TryAddSingleton<TrainingRunner>();
        services.AddHostedService(sp => sp.GetRequiredService<TrainingRunner>());
        return services;
    }
}
