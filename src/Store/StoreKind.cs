namespace AIaaS.Queue.Store;

public enum StoreKind
{
    /// <summary>One SQLite file next to the process: the single-machine default.</summary>
    Embedded,

    /// <summary>MongoDB, with model files in GridFS: the distributed store.</summary>
    MongoDb,
}
