using System.CommandLine;

namespace AIaaS.Queue.Cli;

internal static partial class CliApp
{
    /// <summary>The exit code after Ctrl+C in every command, as shells report a process ended by SIGINT (128 + 2).</summary>
    public const int ExitCancelled = 130;

    /// <summary>How the CLI runs its commands: errors reach Program's handler, and after Ctrl+C a command has time to cancel
    /// its job and print the outcome before System.CommandLine ends the process (its default grace is 2 s).</summary>
    public static InvocationConfiguration Invocation => new()
    {
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = TimeSpan.FromSeconds(45),
    };
}
