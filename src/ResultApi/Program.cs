using AIaaS.Queue.ResultApi;

var builder = WebApplication.CreateBuilder(args);
builder.AddResultApi();

var app = builder.Build();
app.MapResultApi();
await app.RunAsync();

/// <summary>Entry point; public so that tests can host the API with WebApplicationFactory.</summary>
public partial class Program;
