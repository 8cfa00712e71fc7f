namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>Every test on real servers is bounded in time: the test's own cancellation, ended after a limit too.</summary>
internal static class TestTimeout
{
    public static CancellationToken After(int seconds)
    {
        // Not disposed: the token must outlive this call, and the source lives no longer than the test.
        var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(seconds));
        return limit.Token;
    }
}
