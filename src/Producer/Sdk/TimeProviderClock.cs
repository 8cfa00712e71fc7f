using Microsoft.Extensions.Internal;

namespace AIaaS.Queue.Producer;

/// <summary>Lets a <see cref="Microsoft.Extensions.Caching.Memory.MemoryCache"/> expire entries on the injected
/// <see cref="TimeProvider"/>, the clock the rest of the class reads.</summary>
internal sealed class TimeProviderClock(TimeProvider time) : ISystemClock
{
    public DateTimeOffset UtcNow => time.GetUtcNow();
}
