using AIaaS.Queue.Workers.Recipes;

namespace AIaaS.Queue.Workers.Tests.Recipes;

/// <summary>Sentence embeddings from hidden states: mean over the tokens the mask keeps, the first token, unit length.</summary>
public sealed class PoolingTests
{
    // Three tokens of dimension 2: (1, 2), (3, 4), (100, 200) — the last one padding in the masked cases.
    private static readonly float[] Hidden = [1, 2, 3, 4, 100, 200];

    [Fact]
    public void MeanCountsOnlyTheTokensTheMaskKeeps()
    {
        Assert.Equal([2f, 3f], Pooling.Mean(Hidden, dim: 2, mask: [1L, 1L, 0L]));
        Assert.Equal([50.5f, 101f], Pooling.Mean(Hidden, dim: 2, mask: [1L, 0L, 1L]));
    }

    [Fact]
    public void MeanOverARecordsOwnTokensIgnoresThePaddingAfterThem()
    {
        Assert.Equal([2f, 3f], Pooling.Mean(Hidden, dim: 2, realTokens: 2));
        var all = Pooling.Mean(Hidden, dim: 2, realTokens: 3);
        Assert.Equal(104.0 / 3, all[0], 1e-5);
        Assert.Equal(206.0 / 3, all[1], 1e-5);
    }

    [Fact]
    public void AMaskOfZerosHasNothingToPool()
    {
        var error = Assert.Throws<RecipeException>(() => Pooling.Mean(Hidden, dim: 2, mask: [0L, 0L, 0L]));
        Assert.Contains("all zeros", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClsIsTheFirstTokensState()
    {
        Assert.Equal([1f, 2f], Pooling.Cls(Hidden, dim: 2));
    }

    [Fact]
    public void NormalizingScalesToUnitLengthAndLeavesAZeroVectorAlone()
    {
        float[] vector = [3, 4];
        Pooling.L2Normalize(vector);
        Assert.Equal([0.6f, 0.8f], vector);

        float[] zero = [0, 0];
        Pooling.L2Normalize(zero);
        Assert.Equal([0f, 0f], zero);
    }
}
