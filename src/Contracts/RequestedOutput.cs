namespace AIaaS.Queue.Contracts;

/// <summary>An output a request asks for by name (OIP's <c>outputs: [{"name": ...}]</c>).</summary>
public sealed record RequestedOutput
{
    public required string Name { get; init; }
}
