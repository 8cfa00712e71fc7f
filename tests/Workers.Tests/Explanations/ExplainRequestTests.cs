using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain.Explanations;

namespace AIaaS.Queue.Workers.Tests.Explanations;

/// <summary>How an explanation is asked for on the wire, and how a background file is read.</summary>
public sealed class ExplainRequestTests
{
    [Theory]
    [InlineData("true", true, null, null)]
    [InlineData("false", false, null, null)]
    [InlineData("null", false, null, null)]
    [InlineData("{}", true, null, null)]
    [InlineData("{\"samples\": 512, \"seed\": 7}", true, 512, 7)]
    [InlineData("{\"Samples\": 64, \"other\": [1, 2]}", true, 64, null)]
    public void ExplainIsReadAsTrueFalseOrAnOptionsObject(string json, bool asked, int? samples, int? seed)
    {
        var job = JsonSerializer.Deserialize<SubmitPredictJob>(
            $"{{\"jobId\": \"{Guid.NewGuid()}\", \"model\": \"m\", \"submittedAt\": \"2026-11-29T00:00:00Z\", \"explain\": {json}}}", WireJson.Options)!;

        Assert.Equal(asked, job.Explain is not null);
        Assert.Equal(samples, job.Explain?.Samples);
        Assert.Equal(seed, job.Explain?.Seed);
    }

    [Theory]
    [InlineData("\"yes\"")]
    [InlineData("{\"samples\": \"many\"}")]
    [InlineData("{\"samples\": 1.5}")]
    public void AMalformedExplainIsRefusedWithWhatItMustBe(string json)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<SubmitJobRequest>($"{{\"model\": \"m\", \"explain\": {json}}}", WireJson.Options));

        Assert.Contains("explain", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionsRoundTripOnTheWire()
    {
        var job = new SubmitPredictJob { JobId = Guid.NewGuid(), Model = "m", SubmittedAt = DateTimeOffset.UnixEpoch, Explain = new ExplainOptions { Samples = 300, Seed = 2 } };

        var read = JsonSerializer.Deserialize<SubmitPredictJob>(JsonSerializer.Serialize(job, WireJson.Options), WireJson.Options)!;

        Assert.Equal(job.Explain, read.Explain);
    }

    [Fact]
    public void ABackgroundFileGivesNamesAndRowsAndIsSampledDownToAHundredRows()
    {
        var csv = "a, b,\"c\"\r\n" + string.Concat(Enumerable.Range(0, 250).Select(i => $"{i},{i * 2},{i * 3}\r\n"));

        var (background, problem) = BackgroundRows.ParseCsv(csv);
        var again = BackgroundRows.ParseCsv(csv).Background!;

        Assert.Null(problem);
        Assert.Equal(["a", "b", "c"], background!.Features);
        Assert.Equal(ExplanationBackground.MaxRows, background.Rows.Count);
        Assert.All(background.Rows, row => Assert.Equal(row[0] * 3, row[2]));
        Assert.Equal(background.Rows.Select(r => r[0]), again.Rows.Select(r => r[0]));
        Assert.Equal(BackgroundRows.Uploaded, background.Source);
    }

    [Theory]
    [InlineData("a,b\n", "at least one row")]
    [InlineData("a,b\n1,2,3\n", "Line 2 of the background file has 3 values")]
    [InlineData("a,b\n1,x\n", "has 'x' for b")]
    [InlineData("a,,c\n1,2,3\n", "empty feature name")]
    public void ABadBackgroundFileIsRefusedWithTheReason(string csv, string reason)
    {
        var (background, problem) = BackgroundRows.ParseCsv(csv);

        Assert.Null(background);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }
}
