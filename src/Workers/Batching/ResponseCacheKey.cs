using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>
/// The response cache's key for a prepared predict job: SHA-256 over the tenant, the model version and everything that
/// decides the answer, in one unambiguous layout. Every variable-length part is preceded by its length and every optional
/// one by whether it is there, so that two different jobs never write the same bytes (text "ab" + image "c" is not text
/// "a" + image "bc"). The inputs are hashed as the typed tensors the model gets (name, element type, shape, raw data), so
/// the same request reaches the same key however its JSON spelled the numbers.
/// </summary>
internal static class ResponseCacheKey
{
    // A new layout gets a new tag, so that keys of two layouts can never meet.
    private static readonly byte[] Layout = "aiaas-response-cache/1"u8.ToArray();

    public static string For(string tenantId, LoadedModel model, SubmitPredictJob job, PreparedRequest request)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Layout);
        AppendText(hash, tenantId);
        AppendText(hash, model.Name);
        AppendNumber(hash, model.Version);

        // A recipe's answer may depend on more of its input than the tensors made from it (a truncated text's token count).
        AppendOptionalText(hash, job.Text);
        AppendOptionalText(hash, job.Image);
        AppendNumber(hash, job.Outputs?.Count ?? -1);
        foreach (var output in job.Outputs ?? [])
        {
            AppendText(hash, output.Name);
        }

        AppendNumber(hash, request.Inputs.Length);
        for (var i = 0; i < request.Inputs.Length; i++)
        {
            AppendText(hash, model.Inputs[i].Name);
            AppendTensor(hash, request.Inputs[i]);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static void AppendTensor(IncrementalHash hash, TensorData tensor)
    {
        AppendNumber(hash, (long)tensor.Type);
        AppendNumber(hash, tensor.Shape.Length);
        foreach (var dimension in tensor.Shape)
        {
            AppendNumber(hash, dimension);
        }

        AppendNumber(hash, tensor.Length);
        if (tensor.Values is string[] strings)
        {
            foreach (var value in strings)
            {
                AppendText(hash, value);
            }

            return;
        }

        // Numbers and booleans as the bytes the model reads: exact, so 0.1f and the nearest double never share a key.
        var bytes = checked(tensor.Length * ElementSize(tensor.Type));
        hash.AppendData(MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(tensor.Values), bytes));
    }

    private static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.Int16 or TensorElementType.UInt16 => 2,
        TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.Bool => 1,
        _ => throw new NotSupportedException($"Element type {type} has no response cache key."),
    };

    private static void AppendOptionalText(IncrementalHash hash, string? text)
    {
        AppendNumber(hash, text is null ? 0 : 1);
        if (text is not null)
        {
            AppendText(hash, text);
        }
    }

    private static void AppendText(IncrementalHash hash, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        AppendNumber(hash, bytes.Length);
        hash.AppendData(bytes);
    }

    private static void AppendNumber(IncrementalHash hash, long value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(long)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        hash.AppendData(bytes);
    }
}
