namespace AIaaS.Queue.Store.Tests;

/// <summary>Tests on a real store, each bounded in time: its own token is xunit's, cut off after 60 s.</summary>
public abstract class TimeLimitedTests : IDisposable
{
    private static readonly TimeSpan TestTimeLimit = TimeSpan.FromSeconds(60);
    private readonly CancellationTokenSource _timeout;

    protected TimeLimitedTests()
    {
        _timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        _timeout.CancelAfter(TestTimeLimit);
    }

    /// <summary>The test's own token: xunit's, cut off after 60 s.</summary>
    protected CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _timeout.Dispose();
        }
    }
}
