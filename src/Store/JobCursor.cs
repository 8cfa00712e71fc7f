using System.Buffers.Binary;
using System.Buffers.Text;

namespace AIaaS.Queue.Store;

/// <summary>
/// The paging cursor both stores share: the last item's (SubmittedAt UTC ticks, JobId), base64url-encoded.
/// JobId is compared as its 16 RFC 4122 (big-endian) bytes, which is how MongoDB orders standard-representation
/// GUIDs and how SQLite compares the BLOB the embedded store keeps, so both stores page identically.
/// </summary>
internal static class JobCursor
{
    private const byte FormatVersion = 1;
    private const int Length = 1 + sizeof(long) + 16;

    public const int MaxPageSize = 1000;

    public static int ClampLimit(int limit) => Math.Clamp(limit, 1, MaxPageSize);

    public static string Encode(JobRecord last)
    {
        Span<byte> bytes = stackalloc byte[Length];
        bytes[0] = FormatVersion;
        BinaryPrimitives.WriteInt64BigEndian(bytes[1..], last.SubmittedAt.UtcTicks);
        last.JobId.TryWriteBytes(bytes[9..], bigEndian: true, out _);
        return Base64Url.EncodeToString(bytes);
    }

    /// <exception cref="ArgumentException">The cursor was not made by <see cref="Encode"/>.</exception>
    public static (long SubmittedTicks, Guid JobId) Decode(string cursor)
    {
        Span<byte> bytes = stackalloc byte[Length];
        if (cursor.Length != Base64Url.GetEncodedLength(Length)
            || !Base64Url.TryDecodeFromChars(cursor, bytes, out var written)
            || written != Length
            || bytes[0] != FormatVersion)
        {
            throw new ArgumentException("The cursor is not one this store issued.", nameof(cursor));
        }

        return (BinaryPrimitives.ReadInt64BigEndian(bytes[1..]), new Guid(bytes[9..], bigEndian: true));
    }

    public static byte[] GuidBytes(Guid id) => id.ToByteArray(bigEndian: true);

    public static DateTimeOffset FromUtcTicks(long ticks) => new(ticks, TimeSpan.Zero);

    /// <summary>Drops repeated jobs (tenant and id) so a batch means the same in both stores: the first wins for inserts,
    /// the last for upserts. Two tenants' jobs of one id are two jobs and both stay.</summary>
    public static IReadOnlyCollection<JobRecord> Distinct(IReadOnlyCollection<JobRecord> jobs, bool keepLast)
    {
        var byId = new Dictionary<JobKey, JobRecord>(jobs.Count);
        foreach (var job in jobs)
        {
            if (keepLast)
            {
                byId[JobKey.Of(job)] = job;
            }
            else
            {
                byId.TryAdd(JobKey.Of(job), job);
            }
        }

        return byId.Count == jobs.Count ? jobs : byId.Values;
    }
}
