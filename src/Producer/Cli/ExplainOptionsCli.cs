using System.CommandLine;
using System.Globalization;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Cli;

/// <summary>The explanation options of <c>aiaas predict</c> and <c>aiaas score</c>, read into <see cref="ExplainOptions"/>,
/// and the printing of an explanation: per output value, the features by absolute attribution.</summary>
internal sealed class ExplainOptionsCli
{
    private readonly Option<bool> _explain = new("--explain") { Description = "explain the prediction: per-feature attributions (Kernel SHAP); tabular models with background data" };
    private readonly Option<int?> _samples = new("--explain-samples") { Description = "coalitions to sample (default: all of them up to 12 features, else 2048 + 2 per feature)" };
    private readonly Option<int?> _seed = new("--explain-seed") { Description = "seed of the coalition sampling (default 0)" };

    public void AddTo(Command command)
    {
        command.Options.Add(_explain);
        command.Options.Add(_samples);
        command.Options.Add(_seed);
    }

    /// <summary>The options asked for; null without <c>--explain</c> (its settings imply it).</summary>
    public ExplainOptions? Read(ParseResult parse) =>
        parse.GetValue(_explain) || parse.GetValue(_samples) is not null || parse.GetValue(_seed) is not null
            ? new ExplainOptions { Samples = parse.GetValue(_samples), Seed = parse.GetValue(_seed) }
            : null;

    public static void Print(Explanation explanation)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"explanation: {explanation.Method}, {(explanation.Exact ? "exact" : "sampled")}, {explanation.Coalitions} coalitions, {explanation.BackgroundRows} background rows"));
        foreach (var output in explanation.Outputs)
        {
            var name = output.Label is { } label ? $"{output.Output}[{label}]" : explanation.Outputs.Count(o => o.Output == output.Output) > 1 ? $"{output.Output}[{output.Index}]" : output.Output;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name}: {output.Value:0.####} = base {output.BaseValue:0.####}"));
            foreach (var (feature, attribution) in explanation.Features.Zip(output.Attributions).OrderByDescending(p => Math.Abs(p.Second)))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {(attribution < 0 ? "-" : "+")} {Math.Abs(attribution):0.####}  {feature}"));
            }
        }
    }
}
