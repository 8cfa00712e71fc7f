namespace AIaaS.Queue.Contracts;

/// <summary>Records in a bulk job: read from the file so far, scored, and failed (listed in the error file).</summary>
public sealed record BulkJobCounts
{
    public long Total { get; init; }
    public long Succeeded { get; init; }
    public long Failed { get; init; }
}
