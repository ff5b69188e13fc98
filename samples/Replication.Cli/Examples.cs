using System.CommandLine;

namespace Replication.Cli;

/// <summary>One example line per verb, shown at the end of its description in --help (a test checks every verb has one).</summary>
internal static class Examples
{
    private static readonly Dictionary<string, string> ByVerb = new(StringComparer.Ordinal)
    {
        ["disk info"] = "repl disk info disk.vhdx --json",
        ["disk create"] = "repl disk create disk.vhdx --size 64GiB --format vhdx --type dynamic",
        ["disk convert"] = "repl disk convert disk.vhdx disk.vhd --format vhd --type fixed --azure",
        ["disk manifest"] = "repl disk manifest disk.vhdx -o disk.manifest",
        ["disk diff"] = "repl disk diff disk.vhdx copy.vhdx",
        ["disk sync"] = "repl disk sync disk.vhdx copy.vhdx --dry-run",
        ["upload"] = "repl upload disk.vhdx --container replicas --blob disk.vhd --create-container   (or --target DIR --create)",
        ["download"] = "repl download --container replicas --blob disk.vhd disk.raw --format raw",
        ["hrl dump"] = "repl hrl dump delta.hrl --json",
        ["hrl diff"] = "repl hrl diff old.img new.img -o delta.hrl",
        ["hrl apply"] = "repl hrl apply old.img delta.hrl --undo undo.hrl",
        ["nbd serve"] = "repl nbd serve vm.vhdx --listen 127.0.0.1:10809",
        ["protect"] = "repl protect vm.vhdx --site /srv/dr --create --nic eth0=prod --network-map prod=dr",
        ["replicate"] = "repl replicate --site /srv/dr",
        ["status"] = "repl status --site /srv/dr",
        ["points"] = "repl points --site /srv/dr --name vm",
        ["resync"] = "repl resync --site /srv/dr --name vm",
        ["unprotect"] = "repl unprotect --site /srv/dr --name vm",
        ["failover"] = "repl failover --kind test --site /srv/dr --name vm",
        ["failover cleanup"] = "repl failover cleanup --site /srv/dr --name vm",
        ["commit"] = "repl commit --site /srv/dr --name vm",
        ["failback"] = "repl failback --mode minimize-downtime --site /srv/dr --name vm",
        ["reverse"] = "repl reverse --site /srv/dr --name vm",
        ["demo"] = "repl demo",
        ["run"] = "repl run --site /srv/dr   (or --postgres \"Host=db;Database=repl\" --host-id dr1 on each of several hosts)",
        ["jobs"] = "repl jobs --site /srv/dr --name vm --json",
        ["plan"] = "repl plan show --site /srv/dr",
        ["plan create"] = "repl plan create web --site /srv/dr --group db --group app1,app2 --post 1=./check-db.sh",
        ["plan show"] = "repl plan show web --site /srv/dr",
        ["plan failover"] = "repl plan failover web --site /srv/dr --kind planned --out /srv/recovered --shutdown ./stop-vm.sh",
        ["plan failback"] = "repl plan failback web --site /srv/dr --mode minimize-downtime --stop ./stop-recovered.sh --reverse",
    };

    /// <summary>Appends each verb's example to its description; throws for a verb that has none.</summary>
    public static void AddTo(RootCommand root)
    {
        foreach ((Command command, string path) in Verbs(root, ""))
        {
            if (command.Action is null)
            {
                continue;
            }

            string example = ByVerb.TryGetValue(path, out string? line) ? line : throw new InvalidOperationException($"'repl {path}' has no example.");
            command.Description += $"{Environment.NewLine}{Environment.NewLine}Example:{Environment.NewLine}  {example}";
        }
    }

    private static IEnumerable<(Command Command, string Path)> Verbs(Command parent, string path)
    {
        foreach (Command command in parent.Subcommands)
        {
            string name = path.Length == 0 ? command.Name : $"{path} {command.Name}";
            yield return (command, name);
            foreach ((Command, string) child in Verbs(command, name))
            {
                yield return child;
            }
        }
    }
}
