using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;

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
}
