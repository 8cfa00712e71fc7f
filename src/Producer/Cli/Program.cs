using System.CommandLine;
using AIaaS.Queue.Cli;
using AIaaS.Queue.Producer;

try
{
    return await CliApp.Build().Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception ex) when (ex is AiaasException or HttpRequestException or IOException or FormatException or MassTransit.MassTransitException)
{
    // A user mistake or an unreachable service: say what happened, not where in the code.
    await Console.Error.WriteLineAsync($"aiaas: {ex.Message}");
    return 1;
}
