using System.Globalization;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using Replication.Core.IO;
using Replication.Core.Targets;
using Replication.Core.Targets.Local;

namespace Replication.Core.Replication.Sites;

/// <summary>
/// A recovery site in a local directory (another disk, a NAS mount): <c>items/NAME/item.json</c> holds an item's record
/// and <c>items/NAME/disk-N/</c> each disk's replica target (<see cref="LocalDirectoryTarget"/>).
/// </summary>
public sealed class LocalReplicationSite : IReplicationSite
{
    private readonly LocalDirectoryTargetOptions _targetOptions;
    private readonly TimeProvider? _time;

    /// <summary>Uses <paramref name="directory"/>; creates nothing until something is stored.</summary>
    /// <param name="directory">The site's directory.</param>
    /// <param name="targetOptions">Options of the disks' replica targets (replica format for new replicas, leases).</param>
    /// <param name="timeProvider">
    /// The clock the replicas' fences and recovery points are measured with (the engine's, for one clock throughout);
    /// <see cref="TimeProvider.System"/> when null.
    /// </param>
    /// <exception cref="ArgumentException">The path is empty or names a file.</exception>
    public LocalReplicationSite(string directory, LocalDirectoryTargetOptions? targetOptions = null, TimeProvider? timeProvider = null)
    {
        _time = timeProvider;
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Location = Path.GetFullPath(directory);
        if (File.Exists(Location))
        {
            throw new ArgumentException($"{Location} is a file, not a directory.", nameof(directory));
        }

        _targetOptions = targetOptions ?? LocalDirectoryTargetOptions.Default;
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <inheritdoc />
    public IReplicaTarget GetDiskTarget(string item, int disk)
    {
        ItemNames.Check(item);
        ArgumentOutOfRangeException.ThrowIfNegative(disk);
        return new LocalDirectoryTarget(Path.Combine(ItemDirectory(item), string.Create(CultureInfo.InvariantCulture, $"disk-{disk}")), _targetOptions, _time);
    }

    /// <inheritdoc />
    public long ReplicaSizeFor(long virtualSize) => virtualSize;

    /// <inheritdoc />
    public ValueTask EnsureWritableAsync(bool create, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!Directory.Exists(Location))
        {
            if (!create)
            {
                throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{Location}: no such directory (the site is made only when asked to create it).");
            }

            Directory.CreateDirectory(Location);
            DurableFile.FlushDirectory(Path.GetDirectoryName(Location)!);
        }

        string probe = Path.Combine(Location, $".write-probe-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ReplicationException(
                ex is UnauthorizedAccessException ? ReplicationErrorCode.AuthenticationFailed : ReplicationErrorCode.IoFailure,
                ex is IOException,
                $"{Location}: the site cannot be written ({ex.Message}).",
                ex);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask<SiteRecord?> ReadRecordAsync(string item, CancellationToken cancellationToken = default)
    {
        ItemNames.Check(item);
        string path = RecordPath(item);
        byte[] content;
        try
        {
            content = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        return new SiteRecord(content, VersionOf(content), path);
    }

    /// <inheritdoc />
    public async ValueTask<string> WriteRecordAsync(string item, ReadOnlyMemory<byte> content, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ItemNames.Check(item);
        SiteRecord? stored = await ReadRecordAsync(item, cancellationToken).ConfigureAwait(false);
        if (stored?.Version != expectedVersion)
        {
            throw new ReplicationException(
                ReplicationErrorCode.Conflict,
                true,
                $"{RecordPath(item)}: the record changed since it was read (another writer is working on '{item}').");
        }

        string directory = ItemDirectory(item);
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory);
            DurableFile.FlushDirectory(Path.GetDirectoryName(directory)!);
            DurableFile.FlushDirectory(Location);
        }

        DurableFile.WriteAllBytes(RecordPath(item), content.Span);
        return VersionOf(content.Span);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        string items = Path.Combine(Location, "items");
        if (!Directory.Exists(items))
        {
            yield break;
        }

        foreach (string name in Directory.EnumerateDirectories(items).Select(d => Path.GetFileName(d)).Where(ItemNames.IsValid).Order(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (File.Exists(RecordPath(name)))
            {
                yield return name;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DeleteItemAsync(string item, CancellationToken cancellationToken = default)
    {
        ItemNames.Check(item);
        cancellationToken.ThrowIfCancellationRequested();
        string directory = ItemDirectory(item);
        if (Directory.Exists(directory))
        {
            // The record first: a crash part way leaves no record naming replicas that are half gone.
            DurableFile.Delete(RecordPath(item));
            Directory.Delete(directory, recursive: true);
            DurableFile.FlushDirectory(Path.Combine(Location, "items"));
        }

        return ValueTask.CompletedTask;
    }

    private static string VersionOf(ReadOnlySpan<byte> content) => XxHash128.HashToUInt128(content).ToString("x32", CultureInfo.InvariantCulture);

    private string ItemDirectory(string item) => Path.Combine(Location, "items", item);

    private string RecordPath(string item) => Path.Combine(ItemDirectory(item), "item.json");
}
