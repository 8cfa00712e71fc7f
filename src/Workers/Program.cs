using AIaaS.Queue.Workers;

var builder = Host.CreateApplicationBuilder(args);
builder.AddWorkers();
await builder.Build().RunAsync();
