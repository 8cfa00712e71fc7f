namespace AIaaS.Queue.Integration.Tests.Infrastructure;

internal static class Repository
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

    /// <summary>The built Workers assembly from the same configuration as this test assembly.</summary>
    public static string WorkersAssembly()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<configuration>/net10.0/
        var path = Path.Combine(Root.FullName, "src", "Workers", "bin", configuration, "net10.0", "AIaaS.Queue.Workers.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build the solution first: the Workers process is started from its build output.", path);
    }
}
