using System.Security.Cryptography;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store.Tests;

/// <summary>Encryption at rest of job outputs in the embedded store: no plaintext in the file, and a wrong key fails loudly.</summary>
public sealed class SqliteEncryptionTests : TimeLimitedTests
{
    private const string Canary = "plaintext-canary-7f3a91";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("aiaas-encryption-");

    private string StorePath => Path.Combine(_directory.FullName, "aiaas.db");

    // The canary lies in the outputs and, as a feature name, in the explanation.
    private static JobRecord JobWithCanary() => TestJobs.Succeeded("acme", [TestTensors.Of<string>("label", "BYTES", [1], [Canary])]) with
    {
        Explanation = new Explanation { Exact = true, Coalitions = 2, BackgroundRows = 1, Features = [Canary + "-feature"], Outputs = [] },
    };

    private async Task<JobRecord> StoreAsync(byte[]? masterKey)
    {
        var job = JobWithCanary();
        using (var store = StoreServices.Embedded(StorePath, masterKey))
        {
            await store.Jobs.UpsertAsync([job], Ct);
            var stored = (await store.Jobs.GetAsync(job.TenantId, job.JobId, Ct))!;
            Assert.Equal(Canary, stored.Outputs![0].Data[0].GetString());
            Assert.Equal(Canary + "-feature", stored.Explanation!.Features.Single());
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
    public async Task WithAMasterKeyTheFileHoldsNoPlaintextOfAJobsOutputsOrExplanation()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var job = await StoreAsync(key);

        Assert.False(FileHolds(Canary), "the store's files hold the output in plain text");
        using var reopened = StoreServices.Embedded(StorePath, key);
        var stored = (await reopened.Jobs.GetAsync(job.TenantId, job.JobId, Ct))!;
        Assert.Equal(Canary, stored.Outputs![0].Data[0].GetString());
        Assert.Equal(Canary + "-feature", stored.Explanation!.Features.Single());
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
        var unreadable = await Assert.ThrowsAsync<InvalidOperationException>(() => none.Jobs.GetAsync(job.TenantId, job.JobId, Ct));
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
            Assert.Equal(Canary, (await reopened.Jobs.GetAsync(job.TenantId, job.JobId, Ct))!.Outputs![0].Data[0].GetString());
        }

        SqliteConnection.ClearAllPools();
        using var retired = StoreServices.Embedded(StorePath, old);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => retired.Health.PingAsync(Ct));
        Assert.Contains(LocalMasterKeys.IdOf(current), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithAMasterKeyBulkChunkInputsAndResultsLieSealedAndReadBackAsWritten()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var job = NewBulkJob();
        var (input, output, errors) = ($"{{\"text\":\"{Canary}-input\"}}\n", $"{{\"label\":\"{Canary}-output\"}}\n", $"line 2: {Canary}-error\n");
        using (var store = StoreServices.Embedded(StorePath, key))
        {
            await WriteChunksAsync(store, job, input, output, errors);
        }

        SqliteConnection.ClearAllPools();
        Assert.False(FileHolds(Canary), "the store's files hold a bulk chunk in plain text");
        using var reopened = StoreServices.Embedded(StorePath, key);
        Assert.Equal(input, Encoding.UTF8.GetString((await reopened.Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, Ct))!));
        Assert.Equal(output, await CopyAsync(reopened, job, BulkResultKind.Output));
        Assert.Equal(errors, await CopyAsync(reopened, job, BulkResultKind.Errors));
    }

    [Fact]
    public async Task ChunksWrittenBeforeEncryptionWasTurnedOnStillReadBesideSealedOnes()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var job = NewBulkJob();
        using (var plain = StoreServices.Embedded(StorePath))
        {
            await WriteChunksAsync(plain, job, "in-0\n", "out-0\n", "err-0\n");
        }

        SqliteConnection.ClearAllPools();
        using var sealing = StoreServices.Embedded(StorePath, key);
        await sealing.Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 2, 1, Encoding.UTF8.GetBytes($"{Canary}-in-2\n"), Ct);
        await sealing.Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 2,
            new BulkChunkResult { Succeeded = 1, Failed = 0, Output = Encoding.UTF8.GetBytes("out-2\n"), Errors = default }, Ct);

        Assert.Equal("in-0\n", Encoding.UTF8.GetString((await sealing.Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, Ct))!));
        Assert.Equal($"{Canary}-in-2\n", Encoding.UTF8.GetString((await sealing.Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 2, Ct))!));
        Assert.Equal("out-0\nout-2\n", await CopyAsync(sealing, job, BulkResultKind.Output));
        Assert.Equal("err-0\n", await CopyAsync(sealing, job, BulkResultKind.Errors));
    }

    [Fact]
    public async Task WithAMasterKeyAnUploadedFileLiesSealedChunkByChunkAndReadsBackWhole()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        // Over two chunks of 1 MiB, with the canary in each, so that every chunk is checked.
        var line = Encoding.UTF8.GetBytes($"{{\"text\":\"{Canary}\"}}\n");
        var content = Enumerable.Repeat(line, (2 * 1024 * 1024 / line.Length) + 100).SelectMany(l => l).ToArray();
        DatasetView file;
        using (var store = StoreServices.Embedded(StorePath, key))
        {
            file = await store.Datasets.AddDatasetAsync("acme", "corpus.jsonl", new MemoryStream(content), Ct);
        }

        SqliteConnection.ClearAllPools();
        Assert.False(FileHolds(Canary), "the store's files hold an uploaded file in plain text");
        Assert.Equal(content.Length, file.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), file.Sha256);
        using var reopened = StoreServices.Embedded(StorePath, key);
        using var copy = new MemoryStream();
        await reopened.Datasets.CopyDatasetToAsync("acme", file.Id, copy, Ct);
        Assert.Equal(content, copy.ToArray());
    }

    [Fact]
    public async Task AFileUploadedBeforeEncryptionWasTurnedOnStillReads()
    {
        var content = Encoding.UTF8.GetBytes($"{Canary}\n");
        DatasetView file;
        using (var plain = StoreServices.Embedded(StorePath))
        {
            file = await plain.Datasets.AddDatasetAsync("acme", "old.txt", new MemoryStream(content), Ct);
        }

        SqliteConnection.ClearAllPools();
        Assert.True(FileHolds(Canary));
        using var sealing = StoreServices.Embedded(StorePath, RandomNumberGenerator.GetBytes(32));
        using var copy = new MemoryStream();
        await sealing.Datasets.CopyDatasetToAsync("acme", file.Id, copy, Ct);
        Assert.Equal(content, copy.ToArray());
    }

    [Fact]
    public async Task WithAMasterKeyAWebhookPayloadLiesSealedAndIsClaimedAsWritten()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var jobId = Guid.CreateVersion7();
        var delivery = new WebhookDelivery
        {
            Id = $"msg_{jobId:N}_job_failed",
            JobId = jobId,
            TenantId = "acme",
            EventType = "job.failed",
            Url = "https://example.test/hook",
            Payload = $"{{\"type\":\"job.failed\",\"data\":{{\"error\":\"{Canary}\"}}}}",
            CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-1),
            NextAttemptAt = DateTimeOffset.UtcNow.AddMinutes(-1),
        };
        // One scheduled before deliveries named their tenant: it stays plain and readable.
        var untenanted = delivery with { Id = delivery.Id + "_old", TenantId = null, Payload = "{\"type\":\"job.failed\"}" };
        using (var store = StoreServices.Embedded(StorePath, key))
        {
            await store.Webhooks.ScheduleWebhooksAsync([delivery, untenanted], Ct);
        }

        SqliteConnection.ClearAllPools();
        Assert.False(FileHolds(Canary), "the store's files hold a webhook payload in plain text");
        using var reopened = StoreServices.Embedded(StorePath, key);
        var claimed = (await reopened.Webhooks.ClaimDueWebhooksAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), 10, Ct)).ToDictionary(d => d.Id);
        Assert.Equal(delivery.Payload, claimed[delivery.Id].Payload);
        Assert.Equal(untenanted.Payload, claimed[untenanted.Id].Payload);
        Assert.Equal(delivery.Payload, (await reopened.Webhooks.ListWebhooksAsync("acme", jobId, Ct)).Single(d => d.Id == delivery.Id).Payload);
    }

    [Fact]
    public async Task WithAMasterKeyATrainRequestWithInlineRowsLiesSealedAndIsClaimedAsWritten()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var request = new SubmitTrainJob
        {
            JobId = Guid.CreateVersion7(),
            Model = "acme/m",
            Dataset = new TrainingDataset { Columns = ["text", "label"], Rows = [[Canary + "-row", "a"], ["2", "b"]] },
            LabelColumn = "label",
            SubmittedAt = DateTimeOffset.UtcNow,
            Sender = new TenantCredentials { TenantId = "acme" },
        };
        using (var store = StoreServices.Embedded(StorePath, key))
        {
            Assert.True(await store.TrainingQueue.EnqueueTrainJobAsync(request, Ct));
        }

        SqliteConnection.ClearAllPools();
        Assert.False(FileHolds(Canary), "the store's files hold a train request's rows in plain text");
        using var reopened = StoreServices.Embedded(StorePath, key);
        Assert.Equal(Canary + "-row", (await reopened.TrainingQueue.GetTrainRequestAsync("acme", request.JobId, Ct))!.Dataset.Rows![0][0]);
        var claim = await reopened.TrainingQueue.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct);
        Assert.Equal(request.JobId, claim!.Request.JobId);
        Assert.Equal(Canary + "-row", claim.Request.Dataset.Rows![0][0]);
    }

    private static BulkJobRecord NewBulkJob() => new()
    {
        BulkJobId = Guid.CreateVersion7(),
        TenantId = "acme",
        Model = "acme/m",
        Status = BulkJobStatus.Running,
        InputFileId = "file-1",
        SubmittedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>Chunk 0's input and result (output only), and chunk 1's result (errors only).</summary>
    private async Task WriteChunksAsync(StoreServices store, BulkJobRecord job, string input, string output, string errors)
    {
        Assert.True(await store.Bulk.CreateBulkJobAsync(job, Ct));
        await store.Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, 1, Encoding.UTF8.GetBytes(input), Ct);
        await store.Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 0,
            new BulkChunkResult { Succeeded = 1, Failed = 0, Output = Encoding.UTF8.GetBytes(output), Errors = default }, Ct);
        await store.Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 1,
            new BulkChunkResult { Succeeded = 0, Failed = 1, Output = default, Errors = Encoding.UTF8.GetBytes(errors) }, Ct);
    }

    private async Task<string> CopyAsync(StoreServices store, BulkJobRecord job, BulkResultKind kind)
    {
        using var destination = new MemoryStream();
        await store.Bulk.CopyBulkResultsToAsync(job.TenantId, job.BulkJobId, kind, destination, Ct);
        return Encoding.UTF8.GetString(destination.ToArray());
    }

    protected override void Dispose(bool disposing)
    {
        SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
        base.Dispose(disposing);
    }
}
