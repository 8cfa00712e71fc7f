using System.CommandLine;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi;
using AIaaS.Queue.Server;

// `quickstart [--jobs N] [--data-dir D]`: the whole system in this process, with jobs pushed through it. Anything else:
// the server (the embedded default unless a transport is configured).
if (args is ["quickstart", ..])
{
    try
    {
        return await new RootCommand("AIaaS.Queue server") { Quickstart.Command() }.Parse(args)
            .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }
    catch (Exception ex) when (ex is AiaasException or HttpRequestException or IOException)
    {
        await Console.Error.WriteLineAsync($"quickstart: {ex.Message}");
        return 1;
    }
}

// The content root is the application's folder, so that appsettings.json is found however the process is started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddAiaasServer();

var app = builder.Build();
app.MapResultApi();
await app.RunAsync();
return 0;
