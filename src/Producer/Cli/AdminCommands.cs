using System.CommandLine;
using Microsoft.Extensions.Configuration;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.Cli;

// aiaas admin backup / restore / rewrap-keys: the embedded store's file, on the machine that holds it.
internal static partial class CliApp
{
    private static readonly Option<FileInfo> StoreFileOption = new("--store")
    {
        Description = "the embedded store's file (env Store__EmbeddedPath; default: the one every process on this machine shares)",
        DefaultValueFactory = _ => new FileInfo(Environment.GetEnvironmentVariable("Store__EmbeddedPath") ?? new StoreOptions().EmbeddedPath),
    };

    private static Command AdminCommand()
    {
        var admin = new Command("admin", "Operate the embedded store: online backup, offline restore, master key rotation");

        var output = new Option<FileInfo>("--output", "-o") { Description = "the backup file to write (must not exist)", Required = true };
        var backup = new Command("backup", "Write a consistent copy of the embedded store while it serves (SQLite VACUUM INTO)") { StoreFileOption, output };
        backup.SetAction(async (parse, ct) =>
        {
            var store = parse.GetValue(StoreFileOption)!;
            var target = parse.GetValue(output)!;
            var bytes = await SqliteBackup.BackupAsync(store.FullName, target.FullName, ct);
            Console.WriteLine($"backed up {store.FullName} to {target.FullName} ({bytes} bytes, integrity checked)");
        });

        var input = new Option<FileInfo>("--input", "-i") { Description = "the backup file to restore", Required = true };
        var replace = new Option<bool>("--replace") { Description = "keep an existing store file aside (renamed) and restore over it; stop every process using the store first" };
        var restore = new Command("restore", "Put a backup in place as the embedded store of a stopped deployment") { StoreFileOption, input, replace };
        restore.SetAction(async (parse, ct) =>
        {
            var store = parse.GetValue(StoreFileOption)!;
            var keptAs = await SqliteBackup.RestoreAsync(parse.GetValue(input)!.FullName, store.FullName, parse.GetValue(replace), ct);
            Console.WriteLine($"restored {store.FullName}" + (keptAs is null ? "" : $"; the previous files are kept with the suffix {keptAs}"));
        });

        var rewrap = new Command("rewrap-keys",
            "After a master key rotation: wrap every tenant's data key under the current master key (Store__Encryption__MasterKey or "
            + "MasterKeyFile); the old key must still be given in Store__Encryption__RetiredMasterKeys__0 (or RetiredMasterKeyFiles__0). "
            + "Safe while the store serves") { StoreFileOption };
        rewrap.SetAction(async (parse, ct) =>
        {
            var store = parse.GetValue(StoreFileOption)!;
            var encryption = new ConfigurationBuilder().AddEnvironmentVariables().Build()
                .GetSection(StoreOptions.SectionName).Get<StoreOptions>()?.Encryption ?? new EncryptionOptions();
            encryption.Enabled = true;
            var (rewrapped, stored) = await SqliteKeyRotation.RewrapDataKeysAsync(store.FullName, encryption.ReadMasterKeys()!, ct);
            Console.WriteLine($"re-wrapped {rewrapped} of {stored} data keys in {store.FullName} under the current master key; "
                + "the retired keys can now leave the configuration");
        });

        admin.Subcommands.Add(backup);
        admin.Subcommands.Add(restore);
        admin.Subcommands.Add(rewrap);
        return admin;
    }
}
