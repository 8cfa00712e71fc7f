using AIaaS.Queue.Cli;

return await CliApp.Build().Parse(args).InvokeAsync();
