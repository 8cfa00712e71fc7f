using AIaaS.Queue.ResultApi;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;

namespace AIaaS.Queue.Server;

/// <summary>Builds the server (the ResultApi, with the workers when it hosts them) as a web application in code: for the
/// quickstart, tests and benchmarks.</summary>
public static class AiaasServer
{
    /// <summary>The server with <paramref name="settings"/> over its configuration, listening on a free loopback
    /// port unless the settings name <c>Urls</c>. Logging defaults to warnings.</summary>
    public static WebApplication Build(IReadOnlyDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddAiaasServer();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapResultApi();
        return app;
    }

    /// <summary>The address a started server listens on.</summary>
    public static Uri GetAddress(this IServer server) =>
        new(server.Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());

    /// <inheritdoc cref="GetAddress(IServer)"/>
    public static Uri GetAddress(this WebApplication app) => app.Services.GetRequiredService<IServer>().GetAddress();
}
