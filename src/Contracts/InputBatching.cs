namespace AIaaS.Queue.Contracts;

/// <summary>How one input is batched: padded axes and their pad value, and the largest size each dynamic axis may have.</summary>
public sealed record InputBatching
{
    /// <summary>Axes (0 is the batch axis) padded to the longest request in a batch. They must be dynamic.</summary>
    public IReadOnlyList<int>? PadAxes { get; init; }

    /// <summary>Written into padding: 0 by default (false for BOOL, the empty string for BYTES).</summary>
    public double PadValue { get; init; }

    /// <summary>Per axis, the largest size a request may have (a maximum sequence length); -1 or absent for no bound.</summary>
    public IReadOnlyList<long>? MaxShape { get; init; }
}
