using Microsoft.Extensions.Options;
using MongoDB.Driver;

namespace AIaaS.Queue.Store;

internal sealed class StoreOptionsValidator : IValidateOptions<StoreOptions>
{
    public ValidateOptionsResult Validate(string? name, StoreOptions options)
    {
        var failures = new List<string>();
        switch (options.Kind)
        {
            case StoreKind.Embedded:
                if (string.IsNullOrWhiteSpace(options.EmbeddedPath))
                {
                    failures.Add("Store:EmbeddedPath is required when Store:Kind is Embedded.");
                }

                break;

            case StoreKind.MongoDb:
                if (string.IsNullOrWhiteSpace(options.MongoConnectionString))
                {
                    failures.Add("Store:MongoConnectionString is required when Store:Kind is MongoDb.");
                }
                else if (!IsMongoUrl(options.MongoConnectionString))
                {
                    failures.Add("Store:MongoConnectionString is not a valid MongoDB connection string.");
                }

                if (string.IsNullOrWhiteSpace(options.MongoDatabase))
                {
                    failures.Add("Store:MongoDatabase is required when Store:Kind is MongoDb.");
                }

                break;

            default:
                failures.Add($"Store:Kind '{options.Kind}' is not one of Embedded, MongoDb.");
                break;
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsMongoUrl(string connectionString)
    {
        try
        {
            _ = MongoUrl.Create(connectionString);
            return true;
        }
        catch (MongoConfigurationException)
        {
            return false;
        }
    }
}
