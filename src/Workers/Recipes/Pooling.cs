namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// Sentence embeddings from an encoder's hidden states, one record's <c>[sequence, dim]</c> row-major: the mean over the
/// tokens the attention mask keeps (padding never counts), or the first token's state (<c>[CLS]</c>); and L2 scaling.
/// Sums run in double so that long texts lose nothing to float rounding.
/// </summary>
internal static class Pooling
{
    /// <summary>The mean of the rows of <paramref name="hidden"/> whose <paramref name="mask"/> value is not 0.</summary>
    public static float[] Mean(ReadOnlySpan<float> hidden, int dim, ReadOnlySpan<long> mask)
    {
        var sequence = hidden.Length / dim;
        if (hidden.Length != sequence * dim || mask.Length < sequence)
        {
            throw new RecipeException($"Hidden states of {hidden.Length} values do not form {mask.Length} tokens of {dim}.");
        }

        var sums = new double[dim];
        var kept = 0;
        for (var t = 0; t < sequence; t++)
        {
            if (mask[t] == 0)
            {
                continue;
            }

            kept++;
            var row = hidden.Slice(t * dim, dim);
            for (var d = 0; d < dim; d++)
            {
                sums[d] += row[d];
            }
        }

        if (kept == 0)
        {
            throw new RecipeException("No token is left to pool: the attention mask is all zeros.");
        }

        var mean = new float[dim];
        for (var d = 0; d < dim; d++)
        {
            mean[d] = (float)(sums[d] / kept);
        }

        return mean;
    }

    /// <summary>The mean over the first <paramref name="realTokens"/> rows: a record's own tokens, the rest being padding.</summary>
    public static float[] Mean(ReadOnlySpan<float> hidden, int dim, int realTokens)
    {
        var sequence = hidden.Length / dim;
        var mask = new long[sequence];
        mask.AsSpan(0, Math.Min(realTokens, sequence)).Fill(1);
        return Mean(hidden, dim, mask);
    }

    /// <summary>The first token's hidden state.</summary>
    public static float[] Cls(ReadOnlySpan<float> hidden, int dim) =>
        hidden.Length >= dim ? hidden[..dim].ToArray() : throw new RecipeException($"Hidden states of {hidden.Length} values hold no token of {dim}.");

    /// <summary>Scales <paramref name="vector"/> to unit length in place; a zero vector stays zero (it has no direction).</summary>
    public static void L2Normalize(Span<float> vector)
    {
        double squares = 0;
        foreach (var x in vector)
        {
            squares += (double)x * x;
        }

        if (squares == 0)
        {
            return;
        }

        var scale = 1 / Math.Sqrt(squares);
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] = (float)(vector[i] * scale);
        }
    }
}
