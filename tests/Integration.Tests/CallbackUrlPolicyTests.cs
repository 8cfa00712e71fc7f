using System.Net;
using AIaaS.Queue.ResultApi.Webhooks;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Callback URLs that reach the API's own network are refused, in every spelling the adversarial review found.</summary>
public sealed class CallbackUrlPolicyTests
{
    private readonly CallbackUrlPolicy _policy = new(Options.Create(new WebhookOptions()));

    // Finding 8: IPv6 forms that carry an IPv4 loopback, and hosts that read as addresses once normalized.
    [Theory]
    [InlineData("http://[::127.0.0.1]/")]
    [InlineData("http://[64:ff9b::127.0.0.1]/")]
    [InlineData("http://[2002:7f00:1::]/")]
    [InlineData("http://[::ffff:0:127.0.0.1]/")]
    [InlineData("http://[64:ff9b::10.0.0.1]/")]
    [InlineData("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/")] // Teredo, client 127.0.0.1
    [InlineData("http://①②⑦.0.0.1/")]
    [InlineData("http://example.0.0.1/")]
    public void CallbackUrlsThatReachAnInternalAddressAreRefusedWithoutALookup(string url) =>
        Assert.NotNull(_policy.CheckSyntax(url));

    [Theory]
    [InlineData("http://[2002:5db8:d822::]/")] // 6to4 of 93.184.216.34
    [InlineData("http://[64:ff9b::93.184.216.34]/")]
    [InlineData("https://example.com/hook")]
    [InlineData("https://bücher.example/hook")]
    public void PublicCallbackUrlsPass(string url) => Assert.Null(_policy.CheckSyntax(url));

    [Fact]
    public void EmbeddedPublicAddressesArePublic() => Assert.True(CallbackUrlPolicy.IsPublic(IPAddress.Parse("2002:5db8:d822::1")));
}
