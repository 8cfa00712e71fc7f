namespace AIaaS.Queue.Contracts;

/// <summary>An MLP: hidden layer sizes in order, each followed by <see cref="Activation"/>. The input and output
/// sizes follow from the data.</summary>
public sealed record TrainingArchitecture
{
    public IReadOnlyList<int> HiddenSizes { get; init; } = [32, 32];
    public HiddenActivation Activation { get; init; } = HiddenActivation.Relu;
}
