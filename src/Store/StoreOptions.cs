namespace AIaaS.Queue.Store;

/// <summary>Which store <see cref="StoreServiceCollectionExtensions.AddAiaasStore"/> registers, bound from the "Store" section.</summary>
public sealed class StoreOptions
{
    public const string SectionName = "Store";

    /// <summary>Decides the store; a connection string alone does not switch to MongoDB.</summary>
    public StoreKind Kind { get; set; } = StoreKind.Embedded;

    /// <summary>The SQLite file of the embedded store; its directory is created when missing. The default lies in the
    /// user's data folder, so that a worker and an API started from different folders on one machine share it.</summary>
    public string EmbeddedPath { get; set; } =
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "aiaas", "aiaas.db");

    /// <summary>Required when <see cref="Kind"/> is <see cref="StoreKind.MongoDb"/>.</summary>
    public string? MongoConnectionString { get; set; }

    public string MongoDatabase { get; set; } = "aiaas";
}
