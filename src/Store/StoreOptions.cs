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

    /// <summary>How hard the embedded store pushes each commit to disk. <see cref="EmbeddedDurability.ProcessCrash"/>
    /// (SQLite <c>synchronous=NORMAL</c> in WAL mode): a commit survives any process crash, SIGKILL included, but a power
    /// loss or kernel crash may undo the last ones. <see cref="EmbeddedDurability.PowerLoss"/> (<c>synchronous=FULL</c>):
    /// each commit is synced to the disk first, which costs about 2.7 ms per commit on the disk this was measured on.
    /// The embedded default's in-memory transport loses its queued messages on any crash anyway; choose PowerLoss when the
    /// embedded store sits behind a durable broker and must outlive the machine's power.</summary>
    public EmbeddedDurability EmbeddedDurability { get; set; } = EmbeddedDurability.ProcessCrash;

    /// <summary>Required when <see cref="Kind"/> is <see cref="StoreKind.MongoDb"/>.</summary>
    public string? MongoConnectionString { get; set; }

    public string MongoDatabase { get; set; } = "aiaas";

    /// <summary>Encryption at rest of customer payloads; off by default, embedded store only so far.</summary>
    public EncryptionOptions Encryption { get; set; } = new();
}

/// <summary>What a commit of the embedded store survives; see <see cref="StoreOptions.EmbeddedDurability"/>.</summary>
public enum EmbeddedDurability
{
    ProcessCrash,
    PowerLoss,
}
