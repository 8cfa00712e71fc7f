using AIaaS.Queue.Workers.Explanations;

namespace AIaaS.Queue.Workers.Tests.Explanations;

/// <summary>The Kernel SHAP math on plain functions: exact Shapley values against their definition, the linear case's closed
/// form, efficiency, sampling, and that the way rows are cut into model calls changes nothing.</summary>
public sealed class KernelShapTests
{
    private static readonly float[][] BackgroundRows =
    [
        [0.5f, -1f, 2f, 0f, 1f],
        [1.5f, 0f, -2f, 1f, 3f],
        [-0.5f, 2f, 1f, -1f, 0f],
        [2f, 1f, 0.5f, 2f, -2f],
    ];

    [Fact]
    public void KernelWeightsFollowTheShapleyKernel()
    {
        // M = 4: (M − 1) / (C(M, s) s (M − s)): s = 1 → 3 / (4·1·3) = 0.25, s = 2 → 3 / (6·2·2) = 0.125.
        Assert.Equal(0.25, Coalitions.KernelWeight(4, 1), 12);
        Assert.Equal(0.125, Coalitions.KernelWeight(4, 2), 12);
        Assert.Equal(0.25, Coalitions.KernelWeight(4, 3), 12);
        Assert.Equal(14, Coalitions.For(4, samples: null, seed: 0, maxExactFeatures: 12).Count);
    }

    [Fact]
    public void OnALinearFunctionAttributionsAreWeightTimesDistanceFromTheBackgroundMean()
    {
        double[] w = [1.5, -2, 0.25, 3, -0.75];
        var explainer = Explainer(Linear(w), outputWidth: 1, weights: [1, 2, 3, 4]);
        float[] x = [1f, 2f, -1f, 0.5f, 2f];

        var result = explainer.Explain([x])[0];

        double[] weights = [0.1, 0.2, 0.3, 0.4];
        for (var i = 0; i < w.Length; i++)
        {
            var mean = BackgroundRows.Select((row, b) => weights[b] * row[i]).Sum();
            Assert.Equal(w[i] * (x[i] - mean), result.Attributions[0][i], 9);
        }
    }

    [Fact]
    public void ExactAttributionsAreTheShapleyValuesOfTheCoalitionGame()
    {
        var f = Nonlinear();
        var explainer = Explainer(f, outputWidth: 2);
        float[] x = [1f, -1f, 2f, 0.5f, -2f];

        var result = explainer.Explain([x])[0];

        for (var k = 0; k < 2; k++)
        {
            var expected = ShapleyByDefinition(f, x, k);
            for (var i = 0; i < x.Length; i++)
            {
                Assert.Equal(expected[i], result.Attributions[k][i], 9);
            }
        }
    }

    [Fact]
    public void BaseValuePlusAttributionsIsTheModelOutput()
    {
        var explainer = Explainer(Nonlinear(), outputWidth: 2);
        float[] x = [0.3f, 1.7f, -0.2f, 4f, 1f];

        var result = explainer.Explain([x])[0];

        for (var k = 0; k < 2; k++)
        {
            Assert.Equal(result.Values[k], result.BaseValues[k] + result.Attributions[k].Sum(), 9);
        }
    }

    [Fact]
    public void SampledAttributionsAreRepeatableWithTheSeedAndStillAddUp()
    {
        var f = Nonlinear();
        float[] x = [1f, -1f, 2f, 0.5f, -2f];
        var first = Explainer(f, 2, samples: 20, seed: 7).Explain([x])[0];
        var again = Explainer(f, 2, samples: 20, seed: 7).Explain([x])[0];

        Assert.False(Explainer(f, 2, samples: 20, seed: 7).Coalitions.Exact);
        Assert.Equal(first.Attributions[1], again.Attributions[1]);
        Assert.Equal(first.Values[1], first.BaseValues[1] + first.Attributions[1].Sum(), 9);
    }

    [Fact]
    public void SampledAttributionsOfALinearFunctionAreStillExact()
    {
        // Paired sampling of a linear function leaves no residual: any full-rank sample recovers the weights.
        double[] w = [1.5, -2, 0.25, 3, -0.75];
        float[] x = [1f, 2f, -1f, 0.5f, 2f];
        var result = Explainer(Linear(w), 1, samples: 16, seed: 3).Explain([x])[0];

        for (var i = 0; i < w.Length; i++)
        {
            Assert.Equal(w[i] * (x[i] - BackgroundRows.Average(r => r[i])), result.Attributions[0][i], 6);
        }
    }

    [Fact]
    public void ManyRecordsInLargeCallsGiveTheNumbersOfOneCallPerCoalition()
    {
        var f = Nonlinear();
        float[][] records = [[1f, -1f, 2f, 0.5f, -2f], [0f, 0f, 0f, 0f, 0f], [3f, 1f, -1f, 2f, 0.5f]];
        var batched = Explainer(f, 2, rowsPerCall: 10_000);
        var perCoalition = Explainer(f, 2, rowsPerCall: BackgroundRows.Length);

        var together = batched.Explain(records);
        var oneByOne = records.Select(r => perCoalition.Explain([r])[0]).ToArray();

        Assert.Equal(1 + 1, batched.ModelCalls);
        for (var r = 0; r < records.Length; r++)
        {
            Assert.Equal(oneByOne[r].Attributions[0], together[r].Attributions[0]);
            Assert.Equal(oneByOne[r].Attributions[1], together[r].Attributions[1]);
        }
    }

    [Fact]
    public void ASingleFeatureTakesTheWholeDifference()
    {
        var background = new BackgroundData(1, [1f, 3f]);
        var explainer = new KernelShapExplainer(background, Coalitions.For(1, null, 0, 12), 1,
            (rows, count, outputs) => { for (var i = 0; i < count; i++) { outputs[i] = rows[i] * rows[i]; } }, 100);

        var result = explainer.Explain([[4f]])[0];

        Assert.Equal(5, result.BaseValues[0], 12);
        Assert.Equal(11, result.Attributions[0][0], 12);
    }

    private static KernelShapExplainer Explainer(Func<float[], double[]> f, int outputWidth, double[]? weights = null,
        int? samples = null, int seed = 0, int rowsPerCall = 1 << 16)
    {
        var features = BackgroundRows[0].Length;
        var background = new BackgroundData(features, [.. BackgroundRows.SelectMany(r => r)], weights);
        return new KernelShapExplainer(background, Coalitions.For(features, samples, seed, maxExactFeatures: 12), outputWidth,
            (rows, count, outputs) =>
            {
                for (var i = 0; i < count; i++)
                {
                    f(rows.AsSpan(i * features, features).ToArray()).CopyTo(outputs, i * outputWidth);
                }
            }, rowsPerCall);
    }

    private static Func<float[], double[]> Linear(double[] w) => x => [w.Select((wi, i) => wi * x[i]).Sum() + 0.5];

    /// <summary>Two outputs with interactions, so that attributions are not a feature's effect alone.</summary>
    private static Func<float[], double[]> Nonlinear() => x =>
        [x[0] * x[1] + Math.Tanh(x[2]) - x[3] * x[3] + 0.1 * x[4], Math.Max(0, x[0] + x[2] * x[4]) + x[1] * x[3] * x[4]];

    /// <summary>φ_i = Σ_S |S|! (M − |S| − 1)! / M! (v(S ∪ {i}) − v(S)), with v(S) the background mean of f with S's features
    /// from the record: the definition, for an independent check.</summary>
    private static double[] ShapleyByDefinition(Func<float[], double[]> f, float[] x, int output)
    {
        var m = x.Length;
        double Value(int set) => BackgroundRows.Average(row =>
            f([.. Enumerable.Range(0, m).Select(i => (set & (1 << i)) != 0 ? x[i] : row[i])])[output]);
        double Factorial(int n) => n <= 1 ? 1 : n * Factorial(n - 1);

        var phi = new double[m];
        for (var i = 0; i < m; i++)
        {
            for (var set = 0; set < 1 << m; set++)
            {
                if ((set & (1 << i)) != 0)
                {
                    continue;
                }

                var size = System.Numerics.BitOperations.PopCount((uint)set);
                phi[i] += Factorial(size) * Factorial(m - size - 1) / Factorial(m) * (Value(set | (1 << i)) - Value(set));
            }
        }

        return phi;
    }
}
