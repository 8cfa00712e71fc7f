namespace AIaaS.Queue.Store.Tests;

/// <summary>An online backup of the embedded store taken while jobs are written, restored into a new folder.</summary>
public sealed class SqliteBackupTests : TimeLimitedTests
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("aiaas-backup-");

    [Fact]
    public async Task ABackupTakenUnderLoadRestoresEveryJobFinishedBeforeItIntact()
    {
        var storePath = Path.Combine(_directory.FullName, "live", "aiaas.db");
        var backupPath = Path.Combine(_directory.FullName, "backups", "aiaas-backup.db");
        var restoredPath = Path.Combine(_directory.FullName, "restored", "aiaas.db");
        using var store = StoreServices.Embedded(storePath);
        var written = new List<JobRecord>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var writer = Task.Run(async () =>
        {
            for (var batch = 0; !stop.IsCancellationRequested; batch++)
            {
                var jobs = Enumerable.Range(0, 20).Select(i => FinishedJob(batch * 20 + i)).ToArray();
                await store.Jobs.UpsertAsync(jobs, CancellationToken.None);
                lock (written)
                {
                    written.AddRange(jobs);
                }
            }
        }, CancellationToken.None);
        while (Count(written) < 2_000)
        {
            await Task.Delay(20, Ct);
        }

        var finishedBefore = Snapshot(written);
        var size = await SqliteBackup.BackupAsync(storePath, backupPath, Ct);
        await stop.CancelAsync();
        await writer;

        await SqliteBackup.RestoreAsync(backupPath, restoredPath, replace: false, Ct);
        using var restored = StoreServices.Embedded(restoredPath);
        var found = (await restored.Jobs.GetManyAsync([.. finishedBefore.Select(JobKey.Of)], includeOutputs: true, Ct)).ToDictionary(j => j.JobId);

        Assert.True(size > 0);
        Assert.Equal(finishedBefore.Count, found.Count);
        Assert.All(finishedBefore, job =>
        {
            var copy = found[job.JobId];
            Assert.Equal((job.Status, job.CompletedAt, job.Model), (copy.Status, copy.CompletedAt, copy.Model));
            Assert.Equal(job.Outputs![0].Data.GetRawText(), copy.Outputs![0].Data.GetRawText());
        });
    }

    [Fact]
    public async Task ARestoreKeepsAnExistingStoreAsideOnlyWhenToldAndNeverOverwritesABackup()
    {
        var storePath = Path.Combine(_directory.FullName, "aiaas.db");
        var backupPath = Path.Combine(_directory.FullName, "backup.db");
        using (var store = StoreServices.Embedded(storePath))
        {
            await store.Jobs.UpsertAsync([FinishedJob(1)], Ct);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await SqliteBackup.BackupAsync(storePath, backupPath, Ct);

        await Assert.ThrowsAsync<IOException>(() => SqliteBackup.BackupAsync(storePath, backupPath, Ct));
        await Assert.ThrowsAsync<IOException>(() => SqliteBackup.RestoreAsync(backupPath, storePath, replace: false, Ct));
        var keptAs = await SqliteBackup.RestoreAsync(backupPath, storePath, replace: true, Ct);
        Assert.True(File.Exists(storePath + keptAs), "the old store file is kept beside the restored one");
        await File.WriteAllTextAsync(backupPath + ".bad", "not a database", Ct);
        await Assert.ThrowsAnyAsync<Exception>(() => SqliteBackup.RestoreAsync(backupPath + ".bad", storePath, replace: true, Ct));
    }

    private static JobRecord FinishedJob(int n) => TestJobs.Succeeded("t", [TestTensors.Fp32("y", [1, 3], [n, n + 0.5f, -n])]);

    private static int Count(List<JobRecord> jobs)
    {
        lock (jobs)
        {
            return jobs.Count;
        }
    }

    private static List<JobRecord> Snapshot(List<JobRecord> jobs)
    {
        lock (jobs)
        {
            return [.. jobs];
        }
    }

    protected override void Dispose(bool disposing)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
        base.Dispose(disposing);
    }
}
