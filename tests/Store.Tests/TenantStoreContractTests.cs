using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises for tenants, API key hashes and the tenant of each job (<see cref="ITenantStore"/>).</summary>
public abstract class TenantStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task TheDefaultTenantAlwaysExistsAndATenantIdIsTakenOnce()
    {
        var id = UniqueTenant();
        var now = DateTimeOffset.UtcNow;

        Assert.NotNull(await TenantStore.GetTenantAsync(Tenants.DefaultTenantId, Ct));
        Assert.True(await TenantStore.CreateTenantAsync(new TenantRecord { Id = id, Name = "Acme", CreatedAt = now }, Ct));
        Assert.False(await TenantStore.CreateTenantAsync(new TenantRecord { Id = id, Name = "Other", CreatedAt = now }, Ct));
        Assert.Equal("Acme", (await TenantStore.GetTenantAsync(id, Ct))!.Name);
        Assert.Contains(await TenantStore.ListTenantsAsync(Ct), t => t.Id == id);
        Assert.Null(await TenantStore.GetTenantAsync(UniqueTenant(), Ct));
    }

    [Fact]
    public async Task AnApiKeyIsFoundByItsIdUntilItIsRevokedByItsOwnTenant()
    {
        var tenant = UniqueTenant();
        var (key, keyId) = ApiKeyFormat.Generate(tenant);
        var record = new ApiKeyRecord { KeyId = keyId, TenantId = tenant, Sha256 = ApiKeyFormat.Hash(key), Name = "ci", CreatedAt = DateTimeOffset.UtcNow };

        await TenantStore.AddApiKeyAsync(record, Ct);

        Assert.Equal(record with { CreatedAt = default }, (await TenantStore.GetApiKeyAsync(keyId, Ct))! with { CreatedAt = default });
        Assert.True(await TenantStore.HasActiveApiKeysAsync(Ct));
        Assert.Equal([keyId], (await TenantStore.ListApiKeysAsync(tenant, Ct)).Select(k => k.KeyId));
        Assert.False(await TenantStore.RevokeApiKeyAsync("someone-else", keyId, DateTimeOffset.UtcNow, Ct));
        Assert.True(await TenantStore.RevokeApiKeyAsync(tenant, keyId, DateTimeOffset.UtcNow, Ct));
        Assert.False(await TenantStore.RevokeApiKeyAsync(tenant, keyId, DateTimeOffset.UtcNow, Ct));
        Assert.NotNull((await TenantStore.GetApiKeyAsync(keyId, Ct))!.RevokedAt);
        Assert.Null(await TenantStore.GetApiKeyAsync("0000000000000000", Ct));
    }

    [Fact]
    public async Task ListingForATenantShowsOnlyItsJobs()
    {
        var model = UniqueModel();
        var far = new DateTimeOffset(2300, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var acme = NewJob(model, JobStatus.Queued, far, tenantId: "acme");
        var globex = NewJob(model, JobStatus.Queued, far.AddTicks(1), tenantId: "globex");
        await Jobs.InsertIfAbsentAsync([acme, globex], Ct);

        var page = await Jobs.ListAsync(new JobQuery { TenantId = "acme", Model = model }, Ct);

        Assert.Equal([acme.JobId], page.Items.Select(j => j.JobId));
        Assert.Equal("globex", (await Jobs.GetAsync(globex.TenantId, globex.JobId, Ct))!.TenantId);
    }
}
