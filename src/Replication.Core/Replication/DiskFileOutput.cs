using System.Globalization;
using System.Text.Json;
using Replication.Core.Disks;
using Replication.Core.IO;
using Replication.Core.Transfer;

namespace Replication.Core.Replication;

/// <summary>
/// The default place for a recovered machine: a folder holding each disk as a file (a dynamic VHDX by default, holding
/// only the point's allocated, non-zero data) and <c>ITEM.machine.json</c>, the machine's description with its networks
/// mapped, which a product (or a person) starts the machine from.
/// </summary>
public sealed class DiskFileOutput : IRecoveredMachineOutput
{
    private readonly DiskFormat _format;
    private readonly IDiskSynchronizer _synchronizer;

    /// <summary>Writes to <paramref name="directory"/> (created when missing).</summary>
    /// <param name="directory">The folder.</param>
    /// <param name="format">The disks' format: VHDX (dynamic, the default), VHD (dynamic) or raw.</param>
    /// <param name="synchronizer">Copies the point's disks into the files; a <see cref="DiskSynchronizer"/> when null.</param>
    public DiskFileOutput(string directory, DiskFormat format = DiskFormat.Vhdx, IDiskSynchronizer? synchronizer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
        _format = format;
        _synchronizer = synchronizer ?? new DiskSynchronizer();
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <inheritdoc />
    public async Task<RecoveredMachine> StartAsync(
        string item, FailoverKind kind, RecoveryPointInfo point, MachineDescription machine, IReadOnlyList<IVirtualDisk> pointDisks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pointDisks);
        System.IO.Directory.CreateDirectory(Directory);
        var paths = new List<string>();
        for (int i = 0; i < pointDisks.Count; i++)
        {
            string path = Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"{item}-disk-{i}{Extension(_format)}"));
            string creating = path + ".creating";
            File.Delete(creating);
            using (VirtualDisk disk = VirtualDisk.Create(creating, new DiskCreateOptions
            {
                Format = _format,
                Type = _format == DiskFormat.Raw ? DiskType.Fixed : DiskType.Dynamic,
                VirtualSize = pointDisks[i].VirtualSize,
            }))
            {
                await _synchronizer.SeedAsync(pointDisks[i], disk, options: new SyncOptions { DestinationKnownZero = true }, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            // Only a complete disk takes the name: a failover stopped part way leaves none half written under it.
            DurableFile.Move(creating, path, overwrite: true);
            paths.Add(path);
        }

        var recovered = new RecoveredMachine(item, kind, point, machine, paths);
        DurableFile.WriteAllBytes(DescriptionPath(item), Describe(recovered));
        return recovered;
    }

    /// <inheritdoc />
    public Task RemoveAsync(RecoveredMachine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        foreach (string path in machine.Disks.Append(DescriptionPath(machine.Item)))
        {
            if (File.Exists(path))
            {
                DurableFile.Delete(path);
            }
        }

        // The folder goes too when nothing else is in it (this output made it).
        if (System.IO.Directory.Exists(Directory) && !System.IO.Directory.EnumerateFileSystemEntries(Directory).Any())
        {
            System.IO.Directory.Delete(Directory);
        }

        return Task.CompletedTask;
    }

    /// <summary>The description as JSON: the machine, its adapters on the recovery networks, the point and the disks.</summary>
    internal static byte[] Describe(RecoveredMachine recovered)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("name", recovered.Machine.Name);
            writer.WriteString("item", recovered.Item);
            writer.WriteString("failover", recovered.Kind.ToString().ToLowerInvariant());
            writer.WriteString("point", recovered.Point.Id);
            writer.WriteString("pointTime", recovered.Point.CreatedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("pointKind", recovered.Point.Kind == RecoveryPointKind.ApplicationConsistent ? "applicationConsistent" : "crashConsistent");
            writer.WriteNumber("cpuCount", recovered.Machine.CpuCount);
            writer.WriteNumber("memoryBytes", recovered.Machine.MemoryBytes);
            writer.WriteStartArray("networkAdapters");
            foreach (NetworkAdapter adapter in recovered.Machine.NetworkAdapters)
            {
                writer.WriteStartObject();
                writer.WriteString("name", adapter.Name);
                writer.WriteString("network", adapter.Network);
                writer.WriteString("macAddress", adapter.MacAddress);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("disks");
            foreach (string disk in recovered.Disks)
            {
                writer.WriteStringValue(disk);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static string Extension(DiskFormat format) => format switch
    {
        DiskFormat.Vhd => ".vhd",
        DiskFormat.Raw => ".raw",
        _ => ".vhdx",
    };

    private string DescriptionPath(string item) => Path.Combine(Directory, item + ".machine.json");
}
