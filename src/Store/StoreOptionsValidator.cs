using Microsoft.Extensions.Options;
using MongoDB.Driver;

namespace AIaaS.Queue.Store;

// A key service registered as IMasterKeys takes the place of the configured master key (see AddAiaasStore).
internal sealed class StoreOptionsValidator(IEnumerable<IMasterKeys> keyServices) : IValidateOptions<StoreOptions>
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

                if (options.Encryption.Enabled)
                {
                    failures.Add("Store:Encryption is not built for MongoDB yet: use the server's encryption at rest (or client-side field level encryption) there.");
                }

                break;

            default:
                failures.Add($"Store:Kind '{options.Kind}' is not one of Embedded, MongoDb.");
                break;
        }

        if (options.Kind == StoreKind.Embedded && options.Encryption.Enabled && !keyServices.Any())
        {
            try
            {
                options.Encryption.ReadMasterKeys();
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or IOException or UnauthorizedAccessException)
            {
                failures.Add($"Store:Encryption: {ex.Message}");
            }
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
