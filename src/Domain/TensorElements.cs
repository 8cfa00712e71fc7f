using System.Text.Json;

namespace AIaaS.Queue.Domain;

/// <summary>Counting a tensor's JSON data: the submission rules bound a record by it before any work, and the workers'
/// reader checks it against the shape.</summary>
public static class TensorElements
{
    /// <summary>Elements in <paramref name="data"/>, counting nested arrays' leaves; -1 when it is not an array.</summary>
    public static long Count(JsonElement data)
    {
        if (data.ValueKind != JsonValueKind.Array)
        {
            return -1;
        }

        long count = 0;
        foreach (var item in data.EnumerateArray())
        {
            count += item.ValueKind == JsonValueKind.Array ? Math.Max(0, Count(item)) : 1;
        }

        return count;
    }
}
