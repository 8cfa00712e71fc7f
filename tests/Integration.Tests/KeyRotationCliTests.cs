using System.Security.Cryptography;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Store;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>A master key rotation as an operator runs it: the new key configured, the old one retired, then
/// <c>aiaas admin rewrap-keys</c>; afterwards the new key alone opens what the old one sealed.</summary>
public sealed class KeyRotationCliTests
{
    [Fact]
    public async Task RewrapKeysMovesEveryDataKeyUnderTheNewMasterKey()
    {
        var ct = TestTimeout.After(120);
        var folder = Directory.CreateTempSubdirectory("aiaas-rotation-");
        try
        {
            var path = Path.Combine(folder.FullName, "aiaas.db");
            var (old, current) = (RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32));
            JobRecord[] jobs = [Job("acme"), Job("globex")];
            using (var database = new SqliteDatabase(path, masterKeys: new LocalMasterKeys(old)))
            {
                await new SqliteJobStore(database).UpsertAsync(jobs, ct);
            }

            SqliteConnection.ClearAllPools();
            var environment = new Dictionary<string, string>
            {
                ["Store__Encryption__MasterKey"] = Convert.ToBase64String(current),
                ["Store__Encryption__RetiredMasterKeys__0"] = Convert.ToBase64String(old),
            };

            var (exitCode, output) = await CliProcess.RunAsync(["admin", "rewrap-keys", "--store", path], environment, ct);

            Assert.True(exitCode == 0, output);
            Assert.Contains("re-wrapped 2 of 2 data keys", output, StringComparison.Ordinal);
            using var rotated = new SqliteDatabase(path, masterKeys: new LocalMasterKeys(current));
            foreach (var job in jobs)
            {
                Assert.Equal(job.TenantId, (await new SqliteJobStore(rotated).GetAsync(job.TenantId, job.JobId, ct))!.Outputs![0].Data[0].GetString());
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task RewrapKeysWithoutTheOldKeyFailsAndChangesNothing()
    {
        var ct = TestTimeout.After(120);
        var folder = Directory.CreateTempSubdirectory("aiaas-rotation-");
        try
        {
            var path = Path.Combine(folder.FullName, "aiaas.db");
            var old = RandomNumberGenerator.GetBytes(32);
            var job = Job("acme");
            using (var database = new SqliteDatabase(path, masterKeys: new LocalMasterKeys(old)))
            {
                await new SqliteJobStore(database).UpsertAsync([job], ct);
            }

            SqliteConnection.ClearAllPools();
            var (exitCode, output) = await CliProcess.RunAsync(["admin", "rewrap-keys", "--store", path],
                new Dictionary<string, string> { ["Store__Encryption__MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) }, ct);

            Assert.NotEqual(0, exitCode);
            Assert.Contains("does not open with the configured master key", output, StringComparison.Ordinal);
            using var unchanged = new SqliteDatabase(path, masterKeys: new LocalMasterKeys(old));
            Assert.Equal("acme", (await new SqliteJobStore(unchanged).GetAsync(job.TenantId, job.JobId, ct))!.Outputs![0].Data[0].GetString());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    private static JobRecord Job(string tenantId) => new()
    {
        JobId = Guid.NewGuid(),
        TenantId = tenantId,
        Kind = JobKind.Predict,
        Model = $"{tenantId}/m",
        ModelVersion = 1,
        Status = JobStatus.Succeeded,
        SubmittedAt = DateTimeOffset.UtcNow,
        CompletedAt = DateTimeOffset.UtcNow,
        Outputs = [new InferTensor { Name = "label", Datatype = TensorDatatypes.Bytes, Shape = [1], Data = JsonSerializer.SerializeToElement(new[] { tenantId }) }],
    };
}
