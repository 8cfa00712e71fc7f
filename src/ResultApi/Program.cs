using AIaaS.Queue.ResultApi;

// The ResultApi on its own, for the distributed deployment; src/Server runs it with the workers in one process.
// The content root is the application's folder, so that appsettings.json is found however the process is started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddStandaloneResultApi();

var app = builder.Build();
app.MapResultApi();
await app.RunAsync();

/// <summary>Entry point; public so that tests can host the API with WebApplicationFactory.</summary>
public partial class Program;
