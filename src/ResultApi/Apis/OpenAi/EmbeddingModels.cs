using System.Buffers.Binary;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>The model an OpenAI embeddings request names: its latest version, which must carry a text-embedding recipe and a
/// vocabulary, and the size of the embeddings it makes when the model's signature fixes it.</summary>
public sealed record EmbeddingModel(ModelVersionRecord Version, int? Dimensions)
{
    /// <summary>The caller's model by the name the request gives, or the error to answer.</summary>
    public static async Task<(EmbeddingModel? Model, OpenAiErrorResponse? Error, int Status)> FindAsync(
        string name, TenantCaller caller, IModelStore models, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(models);
        var version = Tenants.IsValidModelName(name)
            ? await models.GetVersionAsync(Tenants.QualifyModel(caller.TenantId, name), null, cancellationToken)
            : null;
        if (version is null)
        {
            return (null, OpenAiErrors.Body(StatusCodes.Status404NotFound, $"The model '{name}' does not exist.", "model", "model_not_found"),
                StatusCodes.Status404NotFound);
        }

        return RecipeProblem(name, version) is { } problem
            ? (null, OpenAiErrors.Body(StatusCodes.Status400BadRequest, problem, "model", "model_not_embedding"), StatusCodes.Status400BadRequest)
            : (new EmbeddingModel(version, DimensionsOf(version)), null, StatusCodes.Status200OK);
    }

    /// <summary>Why the version cannot answer embeddings requests, or null.</summary>
    public static string? RecipeProblem(string name, ModelVersionRecord version)
    {
        ArgumentNullException.ThrowIfNull(version);
        if (version.Recipe?.Kind != RecipeKinds.TextEmbedding)
        {
            return $"Model '{name}' version {version.Version} cannot make embeddings: "
                + (version.Recipe is null ? "it takes tensors only (no recipe)" : $"its recipe is '{version.Recipe.Kind}'")
                + $". Register a version with a '{RecipeKinds.TextEmbedding}' recipe and its vocabulary.";
        }

        return version.HasVocabulary ? null
            : $"Model '{name}' version {version.Version} has a '{RecipeKinds.TextEmbedding}' recipe but no vocabulary to tokenize with.";
    }

    /// <summary>The last axis of the hidden states the recipe pools (its <c>Output</c>, else <c>last_hidden_state</c>, else
    /// the first output of rank 3), when the signature fixes it; null when it is dynamic.</summary>
    public static int? DimensionsOf(ModelVersionRecord version)
    {
        ArgumentNullException.ThrowIfNull(version);
        var outputs = version.Outputs;
        var hidden = outputs.FirstOrDefault(o => o.Name == (version.Recipe?.Output ?? "last_hidden_state"))
            ?? outputs.FirstOrDefault(o => o.Shape.Count == 3);
        return hidden is { Shape.Count: > 0 } && hidden.Shape[^1] > 0 ? hidden.Shape[^1] : null;
    }
}

/// <summary>A text-embedding job's outputs (<c>embedding</c> FP32 <c>[dim]</c>, <c>tokens</c> INT64 <c>[1]</c>) as OpenAI
/// returns them.</summary>
public static class EmbeddingVectors
{
    public const string EmbeddingOutput = "embedding";
    public const string TokensOutput = "tokens";

    /// <summary>The embedding and token count from a job's stored outputs; false when the embedding is missing.</summary>
    public static bool TryRead(IEnumerable<InferTensor>? outputs, out float[] embedding, out long tokens)
    {
        embedding = [];
        tokens = 0;
        var found = false;
        foreach (var output in outputs ?? [])
        {
            if (output.Name == EmbeddingOutput)
            {
                found = TryReadFloats(output.Data, out embedding);
            }
            else if (output.Name == TokensOutput)
            {
                tokens = FirstInteger(output.Data);
            }
        }

        return found;
    }

    /// <summary>The same from a bulk output line's <c>outputs</c>: the protocol's tensors (<c>[{"name", "datatype", "shape",
    /// "data"}]</c>) or a map of flat arrays (<c>{"embedding": [..], "tokens": [..]}</c>).</summary>
    public static bool TryRead(JsonElement outputs, out float[] embedding, out long tokens)
    {
        embedding = [];
        tokens = 0;
        var found = false;
        if (outputs.ValueKind == JsonValueKind.Array)
        {
            foreach (var tensor in outputs.EnumerateArray())
            {
                if (tensor.ValueKind != JsonValueKind.Object || !tensor.TryGetProperty("name", out var name) || !tensor.TryGetProperty("data", out var data))
                {
                    continue;
                }

                if (name.ValueEquals(EmbeddingOutput))
                {
                    found = TryReadFloats(data, out embedding);
                }
                else if (name.ValueEquals(TokensOutput))
                {
                    tokens = FirstInteger(data);
                }
            }
        }
        else if (outputs.ValueKind == JsonValueKind.Object)
        {
            if (outputs.TryGetProperty(EmbeddingOutput, out var data))
            {
                found = TryReadFloats(data, out embedding);
            }

            if (outputs.TryGetProperty(TokensOutput, out var count))
            {
                tokens = FirstInteger(count);
            }
        }

        return found;
    }

    /// <summary>OpenAI's base64 form: the float32 values' little-endian bytes.</summary>
    public static string ToBase64(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return Convert.ToBase64String(bytes);
    }

    /// <summary>The embedding in the form asked for: the floats, or their base64.</summary>
    public static object Encode(float[] embedding, bool base64) => base64 ? ToBase64(embedding) : embedding;

    private static bool TryReadFloats(JsonElement data, out float[] values)
    {
        var list = new List<float>();
        var ok = Collect(data, list);
        values = [.. list];
        return ok && values.Length > 0;
    }

    // Row-major, flat or nested, as the protocol allows.
    private static bool Collect(JsonElement data, List<float> into)
    {
        switch (data.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in data.EnumerateArray())
                {
                    if (!Collect(item, into))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Number when data.TryGetSingle(out var value):
                into.Add(value);
                return true;
            default:
                return false;
        }
    }

    private static long FirstInteger(JsonElement data)
    {
        while (data.ValueKind == JsonValueKind.Array)
        {
            if (data.GetArrayLength() == 0)
            {
                return 0;
            }

            data = data[0];
        }

        return data.ValueKind == JsonValueKind.Number && data.TryGetInt64(out var value) ? value : 0;
    }
}
