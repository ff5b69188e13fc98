using System.Text.RegularExpressions;
using Replication.Core.Tests.Infrastructure;

namespace Replication.Core.Tests.Cli;

/// <summary>Results for people: tables and indented values instead of "1 items", sizes in binary units too.</summary>
public sealed partial class TableTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Results_print_nested_values_as_tables_and_sizes_readably()
    {
        string disk = _dir.File("vm.raw");
        File.WriteAllBytes(disk, DiskKinds.ScatteredContent(8 << 20, 21));
        string site = _dir.File("site");

        string info = Run("disk", "info", disk);
        Assert.Matches(@"virtualSize\s+8388608 \(8\.0 MiB\)", info);

        string protect = Run("protect", disk, "--site", site, "--create", "--nic", "eth0=prod", "--network-map", "prod=dr", "-q");
        Assert.Matches(@"(?m)^state\s+protected$", protect);

        string replicate = Run("replicate", "--site", site, "-q");
        Assert.Matches(@"(?m)^items:\n  NAME\s+ACTION\s+STATE\s+BYTES SENT", replicate);
        Assert.Matches(@"(?m)^  vm\s+deltaCycle\s+protected\s+0\s", replicate);

        string status = Run("status", "--site", site);
        Assert.Matches(@"(?m)^NAME\s+STATE\s+LAST POINT\s+RPO\s+PENDING LOGS\s+RESYNC$", status);
        Assert.Matches(@"(?m)^vm disks:\n  INDEX\s+PATH\s+VIRTUAL SIZE", status);
        Assert.Contains(disk, status, StringComparison.Ordinal);

        string points = Run("points", "--site", site);
        Assert.Matches(@"(?m)^ID\s+TIME \(UTC\)\s+KIND\s+DISK POINTS$", points);
        Assert.Matches(@"(?m)^2\s+\S+\s+crashConsistent\s+2$", points);

        string failover = Run("failover", "--kind", "test", "--site", site, "--out", _dir.File("test"), "-q");
        Assert.Matches(@"(?m)^disks:\n  PATH\n  \S+vm-disk-0\.vhdx$", failover);
        Assert.Matches(@"(?m)^  networkAdapters:\n    NAME\s+NETWORK\n    eth0\s+dr$", failover);
        Assert.Matches(@"(?m)^  memoryBytes\s+1073741824 \(1\.0 GiB\)$", failover);

        foreach (string output in new[] { info, protect, replicate, status, points, failover })
        {
            Assert.DoesNotMatch(CountOfItems(), output);
        }
    }

    public void Dispose() => _dir.Dispose();

    private static string Run(params string[] args)
    {
        ExternalTool.Result result = Repl.Run(args).EnsureSuccess(string.Join(' ', args));
        return result.StandardOutput.ReplaceLineEndings("\n");
    }

    [GeneratedRegex(@"\d+ (items|ranges)\b")]
    private static partial Regex CountOfItems();
}
