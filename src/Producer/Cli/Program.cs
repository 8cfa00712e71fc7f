using System.CommandLine;
using AIaaS.Queue.Cli;
using AIaaS.Queue.Producer;

// Piped to a file or a log: one record a line, never wrapped at a terminal width that is not there.
if (Console.IsOutputRedirected)
{
    Spectre.Console.AnsiConsole.Profile.Width = 4096;
}

try
{
    return await CliApp.Build().Parse(args).InvokeAsync(CliApp.Invocation);
}
catch (Exception ex) when (ex is AiaasException or HttpRequestException or IOException or FormatException or MassTransit.MassTransitException)
{
    // A user mistake or an unreachable service: say what happened, not where in the code.
    await Console.Error.WriteLineAsync($"aiaas: {ex.Message}");
    return 1;
}
