using System.Security.Cryptography;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises for uploaded data files, each owned by one tenant (<see cref="IDatasetStore"/>).</summary>
public abstract class DatasetStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task ADatasetRoundTripsByIdWithItsSizeAndHash()
    {
        var content = new byte[(int)(2.5 * 1024 * 1024)];
        new Random(3).NextBytes(content);

        var dataset = await Datasets.AddDatasetAsync("acme", "data.csv", new MemoryStream(content), Ct);

        Assert.Equal(content.Length, dataset.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), dataset.Sha256);
        Assert.Equal(dataset, await Datasets.GetDatasetAsync("acme", dataset.Id, Ct));
        using var copy = new MemoryStream();
        await Datasets.CopyDatasetToAsync("acme", dataset.Id, copy, Ct);
        Assert.Equal(content, copy.ToArray());
        Assert.Null(await Datasets.GetDatasetAsync("acme", "unknown", Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Datasets.CopyDatasetToAsync("acme", "unknown", Stream.Null, Ct));
    }

    [Fact]
    public async Task ADatasetIsUnknownToEveryOtherTenant()
    {
        var dataset = await Datasets.AddDatasetAsync("acme", "data.csv", new MemoryStream([1, 2, 3]), Ct);

        Assert.Null(await Datasets.GetDatasetAsync("globex", dataset.Id, Ct));
        Assert.Null(await Datasets.GetDatasetAsync(Tenants.DefaultTenantId, dataset.Id, Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Datasets.CopyDatasetToAsync("globex", dataset.Id, Stream.Null, Ct));
    }
}
