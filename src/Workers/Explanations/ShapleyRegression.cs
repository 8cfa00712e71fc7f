namespace AIaaS.Queue.Workers.Explanations;

/// <summary>
/// Kernel SHAP's weighted linear regression: find φ minimising Σ_z w(z) (v(z) − base − Σ_i z_i φ_i)² subject to
/// Σ_i φ_i = value − base. As the reference KernelExplainer does, the constraint eliminates the last feature's φ, and the
/// remaining (M − 1) unknowns come from the normal equations, solved by Cholesky in double precision. The matrix depends on
/// the coalitions only, so every output of a record (and every record of a batch) shares one factorisation.
/// </summary>
internal sealed class ShapleyRegression
{
    private readonly Coalitions _coalitions;
    private readonly double[,]? _cholesky;

    public ShapleyRegression(Coalitions coalitions)
    {
        _coalitions = coalitions;
        if (coalitions.Features > 1)
        {
            _cholesky = Factor(NormalMatrix(coalitions));
        }
    }

    /// <summary>The attributions of one output: <paramref name="coalitionValues"/>[c] is the model's mean output with
    /// coalition c's features from the record and the rest from the background.</summary>
    public double[] Solve(ReadOnlySpan<double> coalitionValues, double baseValue, double value)
    {
        var m = _coalitions.Features;
        var phi = new double[m];
        var total = value - baseValue;
        if (_cholesky is null)
        {
            phi[0] = total;
            return phi;
        }

        // Right-hand side Xᵀ W y', with X'_i = z_i − z_last and y' = v(z) − base − z_last · total.
        var rhs = new double[m - 1];
        for (var c = 0; c < _coalitions.Count; c++)
        {
            var mask = _coalitions.Masks[c];
            var last = mask[m - 1] ? 1.0 : 0.0;
            var y = _coalitions.Weights[c] * (coalitionValues[c] - baseValue - last * total);
            for (var i = 0; i < m - 1; i++)
            {
                rhs[i] += ((mask[i] ? 1.0 : 0.0) - last) * y;
            }
        }

        var solved = CholeskySolve(_cholesky, rhs);
        var sum = 0.0;
        for (var i = 0; i < m - 1; i++)
        {
            phi[i] = solved[i];
            sum += solved[i];
        }

        phi[m - 1] = total - sum;
        return phi;
    }

    private static double[,] NormalMatrix(Coalitions coalitions)
    {
        var n = coalitions.Features - 1;
        var a = new double[n, n];
        var x = new double[n];
        for (var c = 0; c < coalitions.Count; c++)
        {
            var mask = coalitions.Masks[c];
            var last = mask[n] ? 1.0 : 0.0;
            for (var i = 0; i < n; i++)
            {
                x[i] = (mask[i] ? 1.0 : 0.0) - last;
            }

            var w = coalitions.Weights[c];
            for (var i = 0; i < n; i++)
            {
                if (x[i] == 0)
                {
                    continue;
                }

                for (var j = 0; j <= i; j++)
                {
                    a[i, j] += w * x[i] * x[j];
                }
            }
        }

        // A tiny ridge keeps a sparse sample (a feature that never varied) solvable; exact mode is far above it.
        var scale = 0.0;
        for (var i = 0; i < n; i++)
        {
            scale = Math.Max(scale, a[i, i]);
        }

        for (var i = 0; i < n; i++)
        {
            a[i, i] += 1e-12 * Math.Max(scale, 1e-300);
            for (var j = 0; j < i; j++)
            {
                a[j, i] = a[i, j];
            }
        }

        return a;
    }

    /// <summary>The lower-triangular L with A = L Lᵀ.</summary>
    private static double[,] Factor(double[,] a)
    {
        var n = a.GetLength(0);
        var l = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = a[i, j];
                for (var k = 0; k < j; k++)
                {
                    sum -= l[i, k] * l[j, k];
                }

                if (i == j)
                {
                    if (sum <= 0)
                    {
                        throw new ArithmeticException("The coalitions do not determine the attributions; sample more of them.");
                    }

                    l[i, i] = Math.Sqrt(sum);
                }
                else
                {
                    l[i, j] = sum / l[j, j];
                }
            }
        }

        return l;
    }

    private static double[] CholeskySolve(double[,] l, double[] b)
    {
        var n = b.Length;
        var y = new double[n];
        for (var i = 0; i < n; i++)
        {
            var sum = b[i];
            for (var k = 0; k < i; k++)
            {
                sum -= l[i, k] * y[k];
            }

            y[i] = sum / l[i, i];
        }

        var x = new double[n];
        for (var i = n - 1; i >= 0; i--)
        {
            var sum = y[i];
            for (var k = i + 1; k < n; k++)
            {
                sum -= l[k, i] * x[k];
            }

            x[i] = sum / l[i, i];
        }

        return x;
    }
}
