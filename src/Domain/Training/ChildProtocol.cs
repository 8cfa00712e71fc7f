using System.Text.Json;
using System.Text.Json.Serialization;
using AIaaS.Queue.Contracts;

// The namespace is the training child's, as before the file moved here, so that both sides keep their usings.
namespace AIaaS.Queue.Training;

/// <summary>
/// One line of the child's stdout: a JSON object whose "type" is one of <see cref="ChildMessageTypes"/>.
/// Everything else the process prints (native libraries do print) goes to stderr or is ignored by the worker.
/// </summary>
public sealed record ChildMessage
{
    public required string Type { get; init; }
    public int? Rows { get; init; }
    public string? Device { get; init; }
    public int? Epoch { get; init; }
    public int? Epochs { get; init; }
    public double? TrainLoss { get; init; }
    public double? ValidationLoss { get; init; }
    public double? ValidationAccuracy { get; init; }
    public double? ValidationRmse { get; init; }
    public double? LearningRate { get; init; }
    public double? ElapsedSeconds { get; init; }
    public string? OnnxPath { get; init; }
    public IReadOnlyList<string>? FeatureColumns { get; init; }
    public IReadOnlyList<string>? ClassLabels { get; init; }
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }

    /// <summary>"succeeded" only: a sample of the training data's features, which explanations of the model average over.</summary>
    public ExplanationBackground? Background { get; init; }

    /// <summary>"failed" only: why, and whether another attempt could help ("data" and "torch-load" cannot).</summary>
    public string? Reason { get; init; }
    public string? Category { get; init; }

    public static JsonSerializerOptions JsonOptions { get; } = new(WireJson.Options)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>The values of <see cref="ChildMessage.Type"/>.</summary>
public static class ChildMessageTypes
{
    /// <summary>The data was read and checked (rows, feature columns, class labels).</summary>
    public const string Loaded = "loaded";
    public const string Epoch = "epoch";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>Exit codes of the child; the worker reads the reason from the last "failed" line.</summary>
public static class ChildExitCodes
{
    public const int Succeeded = 0;
    public const int Failed = 1;
    public const int InvalidData = 2;
    public const int TorchUnavailable = 3;
    public const int BadArguments = 64;
}
