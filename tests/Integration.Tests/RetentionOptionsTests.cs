using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Retention;
using Microsoft.Extensions.Configuration;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>How retention settings bind from configuration, inherit, and are refused at start-up.</summary>
public sealed class RetentionOptionsTests
{
    private static RetentionOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new RetentionOptions();
        configuration.GetSection(RetentionOptions.SectionName).Bind(options);
        return options;
    }

    [Fact]
    public void APeriodIsInheritedFromTheTenantsKindTheTenantTheDefaultsKindThenTheDefault()
    {
        var options = Bind(new()
        {
            ["Retention:Default:JobPayloads"] = "1.00:00:00",
            ["Retention:Default:JobRecords"] = "30.00:00:00",
            ["Retention:Default:Kinds:Train:JobPayloads"] = "10.00:00:00",
            ["Retention:Default:Files"] = "7.00:00:00",
            ["Retention:Tenants:acme:JobPayloads"] = "02:00:00",
            ["Retention:Tenants:acme:Kinds:Predict:JobRecords"] = "3.00:00:00",
            ["Retention:Tenants:acme:BulkOutputs"] = "12:00:00",
        });

        var acme = options.For("acme");
        var other = options.For("other");

        Assert.Equal(TimeSpan.FromHours(2), acme.JobPayloads(JobKind.Predict));
        Assert.Equal(TimeSpan.FromHours(2), acme.JobPayloads(JobKind.Train)); // the tenant's own setting beats the default's kind
        Assert.Equal(TimeSpan.FromDays(3), acme.JobRecords(JobKind.Predict));
        Assert.Equal(TimeSpan.FromDays(30), acme.JobRecords(JobKind.Train));
        Assert.Equal((TimeSpan?)TimeSpan.FromDays(7), acme.Files);
        Assert.Equal((TimeSpan?)TimeSpan.FromHours(12), acme.BulkOutputs);
        Assert.Equal(TimeSpan.FromDays(1), other.JobPayloads(JobKind.Predict));
        Assert.Equal(TimeSpan.FromDays(10), other.JobPayloads(JobKind.Train));
        Assert.Null(other.BulkOutputs);
        Assert.True(options.ExpiresAnything);
        Assert.False(new RetentionOptions().ExpiresAnything);
    }

    [Fact]
    public void SettingsThatWouldDropARecordBeforeItsPayloadOrAreNotPositiveAreRefusedAtStartUp()
    {
        var options = new RetentionOptions();
        options.Default.JobPayloads = TimeSpan.FromDays(10);
        options.Tenants["acme"] = new RetentionPolicy { Kinds = { [JobKind.Train] = new JobRetentionPolicy { JobRecords = TimeSpan.FromDays(1) } } };
        options.Tenants["zero"] = new RetentionPolicy { Files = TimeSpan.Zero };

        var refused = new RetentionOptionsValidator().Validate(null, options);

        Assert.True(refused.Failed);
        Assert.Contains(refused.Failures, f => f.Contains("tenant acme, Train jobs: JobRecords (1.00:00:00) must not be shorter than JobPayloads (10.00:00:00)", StringComparison.Ordinal));
        Assert.Contains("Retention:Tenants:zero:Files must be positive.", refused.Failures);
    }
}
