using System.Security.Cryptography;
using System.Text;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AIaaS.Queue.Store.Tests;

/// <summary>Rotating the master key: data keys wrapped before stay readable under a retired key, and a re-wrap moves them
/// under the new one without touching the data they seal.</summary>
public sealed class MasterKeyRotationTests
{
    private static readonly byte[] Old = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] New = RandomNumberGenerator.GetBytes(32);

    [Fact]
    public void AKeyWrappedBeforeARotationOpensUnderTheRetiredKeyAndMovesOnRewrap()
    {
        var (dataKey, wrapped) = new PayloadCipher(Old).NewDataKey("acme");
        var rotated = new PayloadCipher(new LocalMasterKeys(New, [Old]));

        Assert.Equal(dataKey, rotated.UnwrapDataKey("acme", wrapped));
        Assert.True(rotated.IsWrappedUnderOlderKey(wrapped));

        var moved = rotated.Rewrap("acme", wrapped);
        Assert.False(rotated.IsWrappedUnderOlderKey(moved));
        Assert.Equal(dataKey, new PayloadCipher(New).UnwrapDataKey("acme", moved));

        var oldOnly = Assert.Throws<InvalidOperationException>(() => new PayloadCipher(Old).UnwrapDataKey("acme", moved));
        Assert.Contains(LocalMasterKeys.IdOf(New), oldOnly.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutTheRetiredKeyAKeyWrappedUnderItFailsLoudlyNamingTheKey()
    {
        var (_, wrapped) = new PayloadCipher(Old).NewDataKey("acme");

        var refused = Assert.Throws<InvalidOperationException>(() => new PayloadCipher(New).UnwrapDataKey("acme", wrapped));
        Assert.Contains("does not open with the configured master key", refused.Message, StringComparison.Ordinal);
        Assert.Contains(LocalMasterKeys.IdOf(Old), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyStoredBeforeKeysHadIdsOpensUnderWhicheverConfiguredKeyWrappedIt()
    {
        // The format of the first release: the data key sealed by the master key, bound to its tenant, with no key id.
        var dataKey = RandomNumberGenerator.GetBytes(32);
        var legacy = PayloadCipher.Seal(Old, dataKey, Encoding.UTF8.GetBytes("aiaas-data-key:acme"));

        var rotated = new PayloadCipher(new LocalMasterKeys(New, [Old]));
        Assert.Equal(dataKey, rotated.UnwrapDataKey("acme", legacy));
        Assert.True(rotated.IsWrappedUnderOlderKey(legacy));
        Assert.Equal(dataKey, new PayloadCipher(New).UnwrapDataKey("acme", rotated.Rewrap("acme", legacy)));
    }

    [Fact]
    public void AWrappedKeyIsBoundToItsTenant()
    {
        var (_, wrapped) = new PayloadCipher(Old).NewDataKey("acme");

        Assert.Throws<InvalidOperationException>(() => new PayloadCipher(Old).UnwrapDataKey("globex", wrapped));
    }

    [Fact]
    public async Task AKeyServiceRegisteredBeforeTheStoreWrapsItsDataKeysInPlaceOfAConfiguredKey()
    {
        var folder = Directory.CreateTempSubdirectory("aiaas-key-service-");
        try
        {
            var keyService = new CountingKeyService(new LocalMasterKeys(New));
            var services = new ServiceCollection()
                .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Store:Kind"] = "Embedded",
                    ["Store:EmbeddedPath"] = Path.Combine(folder.FullName, "aiaas.db"),
                    ["Store:Encryption:Enabled"] = "true",
                }).Build())
                .AddLogging()
                .AddSingleton<IMasterKeys>(keyService)
                .AddAiaasStore();
            using (var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true }))
            {
                var jobs = provider.GetRequiredService<IJobStore>();
                var job = TestJobs.Succeeded("acme", [TestTensors.Of<string>("label", TensorDatatypes.Bytes, [1], ["secret"])]);
                await jobs.UpsertAsync([job], TestContext.Current.CancellationToken);

                Assert.Equal("secret", (await jobs.GetAsync(job.TenantId, job.JobId, TestContext.Current.CancellationToken))!.Outputs![0].Data[0].GetString());
                Assert.Equal(1, keyService.Wraps);
            }

            SqliteConnection.ClearAllPools();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void RetiredKeysBindFromConfiguration()
    {
        var retiredFile = Path.GetTempFileName();
        try
        {
            var third = RandomNumberGenerator.GetBytes(32);
            File.WriteAllText(retiredFile, Convert.ToBase64String(third) + "\n");
            var options = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Enabled"] = "true",
                ["MasterKey"] = Convert.ToBase64String(New),
                ["RetiredMasterKeys:0"] = Convert.ToBase64String(Old),
                ["RetiredMasterKeyFiles:0"] = retiredFile,
            }).Build().Get<EncryptionOptions>()!;

            var keys = options.ReadMasterKeys()!;
            Assert.Equal(LocalMasterKeys.IdOf(New), keys.CurrentKeyId);
            foreach (var retired in new[] { Old, third })
            {
                var (dataKey, wrapped) = new PayloadCipher(retired).NewDataKey("acme");
                Assert.Equal(dataKey, new PayloadCipher(keys).UnwrapDataKey("acme", wrapped));
            }
        }
        finally
        {
            File.Delete(retiredFile);
        }
    }

    /// <summary>A key service as a KMS client would be one: it wraps and unwraps, and counts its calls.</summary>
    private sealed class CountingKeyService(IMasterKeys inner) : IMasterKeys
    {
        public int Wraps { get; private set; }

        public string CurrentKeyId => "kms:" + inner.CurrentKeyId;

        public byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> context)
        {
            Wraps++;
            return inner.Wrap(dataKey, context);
        }

        public byte[] Unwrap(string? keyId, byte[] wrapped, ReadOnlySpan<byte> context) =>
            inner.Unwrap(keyId?.Replace("kms:", "", StringComparison.Ordinal), wrapped, context);
    }
}
