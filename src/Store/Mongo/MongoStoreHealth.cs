using MongoDB.Bson;

namespace AIaaS.Queue.Store;

/// <summary>Answers when the MongoDB server answers a ping.</summary>
public sealed class MongoStoreHealth(MongoDatabaseContext context) : IStoreHealth
{
    public Task PingAsync(CancellationToken cancellationToken = default) =>
        context.Database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: cancellationToken);
}
