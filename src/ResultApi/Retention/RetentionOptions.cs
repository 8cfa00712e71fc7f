using AIaaS.Queue.Contracts;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Retention;

/// <summary>
/// How long each tenant's data is kept (configuration section <c>Retention</c>). A period that is not set is inherited, in
/// this order: the tenant's setting for the job kind, the tenant's setting, the default's setting for the kind, the
/// default's setting; a period set nowhere means "kept for good", which is also what a store with no <c>Retention</c>
/// section does. Periods count from a job's or bulk job's completion and from a file's upload.
/// </summary>
public sealed class RetentionOptions
{
    public const string SectionName = "Retention";

    /// <summary>Time between sweeps. Each sweep runs in one instance at a time (a lease in the store).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most items one sweep step removes, in one short write; steps repeat until fewer come back.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>Pause between two steps, in which job writes waiting for the store's write lock go first.</summary>
    public TimeSpan PauseBetweenBatches { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Most freed bytes one sweep gives back to the file system (embedded store), in 1 MiB steps.</summary>
    public long ReclaimBytesPerSweep { get; set; } = 1L << 30;

    public RetentionPolicy Default { get; set; } = new();

    /// <summary>Per-tenant overrides, by tenant id.</summary>
    public Dictionary<string, RetentionPolicy> Tenants { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The periods that apply to <paramref name="tenantId"/>.</summary>
    public TenantRetention For(string tenantId) =>
        new(Tenants.TryGetValue(tenantId, out var tenant) ? tenant : null, Default);

    /// <summary>Whether any period is set anywhere: without one a sweep has nothing to do.</summary>
    public bool ExpiresAnything => new[] { Default }.Concat(Tenants.Values).Any(p => p.SetsAnyPeriod);
}

/// <summary>Retention periods of one scope (the default or a tenant); unset periods are inherited.</summary>
public sealed class RetentionPolicy
{
    /// <summary>How long a finished job keeps its outputs; afterwards it answers 410 Gone for them, with the time they expired.</summary>
    public TimeSpan? JobPayloads { get; set; }

    /// <summary>How long a finished job's record (status, times, tombstone) is kept; afterwards the job is unknown.</summary>
    public TimeSpan? JobRecords { get; set; }

    /// <summary>How long uploaded files (datasets, OpenAI files, bulk input files) keep their content.</summary>
    public TimeSpan? Files { get; set; }

    /// <summary>How long a finished bulk job keeps its results (and any input chunks left).</summary>
    public TimeSpan? BulkOutputs { get; set; }

    /// <summary>Job periods for one kind of job, over the ones above.</summary>
    public Dictionary<JobKind, JobRetentionPolicy> Kinds { get; set; } = [];

    internal bool SetsAnyPeriod =>
        JobPayloads is not null || JobRecords is not null || Files is not null || BulkOutputs is not null
        || Kinds.Values.Any(k => k.JobPayloads is not null || k.JobRecords is not null);
}

/// <summary>Job periods for one kind of job.</summary>
public sealed class JobRetentionPolicy
{
    public TimeSpan? JobPayloads { get; set; }
    public TimeSpan? JobRecords { get; set; }
}

/// <summary>The periods in force for one tenant, each resolved along the inheritance order; null means kept for good.</summary>
public sealed class TenantRetention(RetentionPolicy? tenant, RetentionPolicy fallback)
{
    public TimeSpan? JobPayloads(JobKind kind) =>
        Kind(tenant, kind)?.JobPayloads ?? tenant?.JobPayloads ?? Kind(fallback, kind)?.JobPayloads ?? fallback.JobPayloads;

    public TimeSpan? JobRecords(JobKind kind) =>
        Kind(tenant, kind)?.JobRecords ?? tenant?.JobRecords ?? Kind(fallback, kind)?.JobRecords ?? fallback.JobRecords;

    public TimeSpan? Files => tenant?.Files ?? fallback.Files;

    public TimeSpan? BulkOutputs => tenant?.BulkOutputs ?? fallback.BulkOutputs;

    private static JobRetentionPolicy? Kind(RetentionPolicy? policy, JobKind kind) =>
        policy is not null && policy.Kinds.TryGetValue(kind, out var found) ? found : null;
}

/// <summary>Refuses at start-up what would make the sweeper misbehave: periods that are not positive, and a job record that
/// would go before its payload (the tombstone must outlive the payload it stands for).</summary>
public sealed class RetentionOptionsValidator : IValidateOptions<RetentionOptions>
{
    public ValidateOptionsResult Validate(string? name, RetentionOptions options)
    {
        var failures = new List<string>();
        if (options.SweepInterval <= TimeSpan.Zero)
        {
            failures.Add("Retention:SweepInterval must be positive.");
        }

        if (options.BatchSize is < 1 or > 100_000)
        {
            failures.Add("Retention:BatchSize must be between 1 and 100000.");
        }

        if (options.PauseBetweenBatches < TimeSpan.Zero)
        {
            failures.Add("Retention:PauseBetweenBatches must not be negative.");
        }

        foreach (var (scope, policy) in options.Tenants.Select(t => ($"Retention:Tenants:{t.Key}", t.Value)).Prepend(("Retention:Default", options.Default)))
        {
            failures.AddRange(PeriodProblems(scope, policy));
        }

        foreach (var tenantId in options.Tenants.Keys.Append("(any other tenant)"))
        {
            var retention = options.For(tenantId);
            foreach (var kind in Enum.GetValues<JobKind>())
            {
                if (retention.JobRecords(kind) is { } records && retention.JobPayloads(kind) is { } payloads && records < payloads)
                {
                    failures.Add($"Retention for tenant {tenantId}, {kind} jobs: JobRecords ({records}) must not be shorter than " +
                        $"JobPayloads ({payloads}): a job's record is its payload's tombstone.");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static IEnumerable<string> PeriodProblems(string scope, RetentionPolicy policy)
    {
        var periods = new List<(string Name, TimeSpan? Value)>
        {
            ("JobPayloads", policy.JobPayloads), ("JobRecords", policy.JobRecords), ("Files", policy.Files), ("BulkOutputs", policy.BulkOutputs),
        };
        foreach (var (kind, job) in policy.Kinds)
        {
            periods.Add(($"Kinds:{kind}:JobPayloads", job.JobPayloads));
            periods.Add(($"Kinds:{kind}:JobRecords", job.JobRecords));
        }

        return periods.Where(p => p.Value is { } value && value <= TimeSpan.Zero).Select(p => $"{scope}:{p.Name} must be positive.");
    }
}
