namespace AIaaS.Queue.TestSupport;

public static class Repository
{
    public static DirectoryInfo Root { get; } = FindRoot();

    private static DirectoryInfo FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "AIaaS.Queue.sln")))
        {
            directory = directory.Parent;
        }

        return directory ?? throw new InvalidOperationException("AIaaS.Queue.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The built Workers assembly from the same configuration as this assembly.</summary>
    public static string WorkersAssembly() => ServiceAssembly("Workers", "AIaaS.Queue.Workers.dll");

    /// <summary>The built ResultApi assembly from the same configuration as this assembly.</summary>
    public static string ResultApiAssembly() => ServiceAssembly("ResultApi", "AIaaS.Queue.ResultApi.dll");

    /// <summary>The built CLI (<c>aiaas</c>), run as users run it: from its own output folder, with its own dependencies.</summary>
    public static string CliAssembly() => ServiceAssembly("Producer/Cli", "aiaas.dll");

    private static string ServiceAssembly(string project, string file)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<configuration>/net10.0/
        var path = Path.Combine(Root.FullName, "src", project, "bin", configuration, "net10.0", file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build the solution first: {project} is started from its build output.", path);
    }
}
