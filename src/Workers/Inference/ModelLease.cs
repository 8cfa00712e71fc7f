namespace AIaaS.Queue.Workers.Inference;

/// <summary>A model held loaded by <see cref="ModelCache"/> for one job (or bulk chunk or split) until disposed: the cache
/// unloads only models with no lease out.</summary>
internal sealed class ModelLease(LoadedModel model, Action release) : IDisposable
{
    private Action? _release = release;

    public LoadedModel Model { get; } = model;

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
