using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store.Tests;

/// <summary>Encryption at rest of job outputs in the embedded store: no plaintext in the file, and a wrong key fails loudly.</summary>
public sealed class SqliteEncryptionTests : TimeLimitedTests
{
    private const string Canary = "plaintext-canary-7f3a91";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("aiaas-encryption-");

    private string StorePath => Path.Combine(_directory.FullName, "aiaas.db");

    private static JobRecord JobWithCanary() => TestJobs.Succeeded("acme", [TestTensors.Of<string>("label", "BYTES", [1], [Canary])]);

    private async Task<JobRecord> StoreAsync(byte[]? masterKey)
    {
        var job = JobWithCanary();
        using (var store = StoreServices.Embedded(StorePath, masterKey))
        {
            await store.Jobs.UpsertAsync([job], Ct);
            Assert.Equal(Canary, (await store.Jobs.GetAsync(job.JobId, Ct))!.Outputs![0].Data[0].GetString());
        }

        SqliteConnection.ClearAllPools();
        return job;
    }

    private bool FileHolds(string text)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        return _directory.GetFiles("aiaas.db*").Any(f => File.ReadAllBytes(f.FullName).AsSpan().IndexOf(needle) >= 0);
    }

    [Fact]
    public async Task WithAMasterKeyTheFileHoldsNoPlaintextOfAJobsOutputs()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var job = await StoreAsync(key);

        Assert.False(FileHolds(Canary), "the store's files hold the output in plain text");
        using var reopened = StoreServices.Embedded(StorePath, key);
        Assert.Equal(Canary, (await reopened.Jobs.GetAsync(job.JobId, Ct))!.Outputs![0].Data[0].GetString());
    }

    [Fact]
    public async Task WithoutEncryptionTheSameOutputLiesInThePlainFile()
    {
        await StoreAsync(masterKey: null);

        Assert.True(FileHolds(Canary), "the canary check finds plaintext where there is some");
    }

    [Fact]
    public async Task AWrongMasterKeyOrNoneFailsLoudly()
    {
        var job = await StoreAsync(RandomNumberGenerator.GetBytes(32));

        using (var wrong = StoreServices.Embedded(StorePath, RandomNumberGenerator.GetBytes(32)))
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => wrong.Health.PingAsync(Ct));
            Assert.Contains("does not open with the configured master key", refused.Message, StringComparison.Ordinal);
        }

        using var none = StoreServices.Embedded(StorePath);
        var unreadable = await Assert.ThrowsAsync<InvalidOperationException>(() => none.Jobs.GetAsync(job.JobId, Ct));
        Assert.Contains("no master key is configured", unreadable.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterARotationAndARewrapTheNewKeyAloneOpensWhatTheOldOneSealed()
    {
        var old = RandomNumberGenerator.GetBytes(32);
        var current = RandomNumberGenerator.GetBytes(32);
        var job = await StoreAsync(old);

        using (var rotated = StoreServices.Embedded(StorePath, current))
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => rotated.Health.PingAsync(Ct));
        }

        SqliteConnection.ClearAllPools();
        var (rewrapped, stored) = await SqliteKeyRotation.RewrapDataKeysAsync(StorePath, new LocalMasterKeys(current, [old]), Ct);
        Assert.Equal((1, 1), (rewrapped, stored));
        Assert.Equal((0, 1), await SqliteKeyRotation.RewrapDataKeysAsync(StorePath, new LocalMasterKeys(current, [old]), Ct));

        using (var reopened = StoreServices.Embedded(StorePath, current))
        {
            Assert.Equal(Canary, (await reopened.Jobs.GetAsync(job.JobId, Ct))!.Outputs![0].Data[0].GetString());
        }

        SqliteConnection.ClearAllPools();
        using var retired = StoreServices.Embedded(StorePath, old);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => retired.Health.PingAsync(Ct));
        Assert.Contains(LocalMasterKeys.IdOf(current), refused.Message, StringComparison.Ordinal);
    }

    protected override void Dispose(bool disposing)
    {
        SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
        base.Dispose(disposing);
    }
}
