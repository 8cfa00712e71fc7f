namespace AIaaS.Queue.Onnx;

/// <summary>One dimension of a graph input or output written by <see cref="OnnxGraphs"/>: a fixed size, or a symbolic
/// name ("batch", "sequence") that ONNX Runtime reports as dynamic (-1) and by that name.</summary>
public readonly record struct GraphDimension
{
    private GraphDimension(long? size, string? name)
    {
        Size = size;
        Name = name;
    }

    /// <summary>The fixed size; null for a symbolic dimension.</summary>
    public long? Size { get; }

    /// <summary>The symbolic name; null for a fixed dimension.</summary>
    public string? Name { get; }

    /// <summary>A dimension of fixed <paramref name="size"/>.</summary>
    public static GraphDimension FromInt64(long size) =>
        size >= 0 ? new(size, null) : throw new ArgumentOutOfRangeException(nameof(size), size, "A fixed dimension is 0 or more.");

    /// <summary>A dynamic dimension called <paramref name="name"/>; outputs that use the same name share its size.</summary>
    public static GraphDimension FromString(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new(null, name);
    }

    public static implicit operator GraphDimension(long size) => FromInt64(size);

    public static implicit operator GraphDimension(string name) => FromString(name);

    public override string ToString() => Name ?? Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?";
}
