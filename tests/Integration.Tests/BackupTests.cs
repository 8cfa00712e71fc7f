using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.Integration.Tests;

/// <summary><c>aiaas admin backup</c> while the system serves, and <c>aiaas admin restore</c> into a new folder.</summary>
public sealed class BackupTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    [Fact]
    public async Task ABackupTakenWhileJobsRunRestoresEveryJobFinishedBeforeItIntact()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("backup");
        await system.Client.RegisterModelAsync(name, new MemoryStream(TestModels.Classifier(seed: 53).Onnx), cancellationToken: ct);
        var random = new Random(53);
        var finished = await system.Client.SubmitPredictManyAsync(
            [.. Enumerable.Range(0, 300).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) })], ct);
        await Task.WhenAll(finished.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
        var folder = Directory.CreateTempSubdirectory("aiaas-backup-");
        try
        {
            var load = system.Client.SubmitPredictManyAsync(
                [.. Enumerable.Range(0, 1_000).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) })], ct);
            var backup = Path.Combine(folder.FullName, "aiaas-backup.db");
            var (backedUp, backupOutput) = await CliProcess.RunAsync(["admin", "backup", "--store", system.StorePath, "--output", backup], null, ct);
            var more = await load;
            await Task.WhenAll(more.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
            var restoredPath = Path.Combine(folder.FullName, "restored", "aiaas.db");
            var (restored, restoreOutput) = await CliProcess.RunAsync(["admin", "restore", "--input", backup, "--store", restoredPath], null, ct);

            Assert.True(backedUp == 0, backupOutput);
            Assert.True(restored == 0, restoreOutput);
            using var database = new SqliteDatabase(restoredPath);
            var copy = new SqliteJobStore(database);
            var jobs = (await copy.GetManyAsync([.. finished.Select(id => new JobKey(Tenants.DefaultTenantId, id))], includeOutputs: true, ct)).ToDictionary(j => j.JobId);
            Assert.Equal(finished.Count, jobs.Count);
            Assert.All(jobs.Values, j => Assert.Equal(JobStatus.Succeeded, j.Status));
            foreach (var id in finished.Take(20))
            {
                var live = await system.Client.GetOutputAsync(id, ct);
                Assert.Equal(live.Outputs.Single().Data.GetRawText(), jobs[id].Outputs!.Single().Data.GetRawText());
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }
}
