using AIaaS.Queue.Workers;

// The content root is the application's folder, so that appsettings.json is found however the process is started.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddWorkers();
await builder.Build().RunAsync();
