using System.Globalization;
using System.Runtime.CompilerServices;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Targets.Local;

/// <summary>
/// A replica target in a local directory (another disk, a NAS mount): the replica as a fixed VHD file (or the format
/// of <see cref="LocalDirectoryTargetOptions.ReplicaFormat"/>), staged logs and the manifest as files with their
/// XxHash128, recovery points as undo logs, and a lease file under flock(2) as the writer fence.
/// </summary>
/// <remarks>
/// Durable: a staged log, the manifest, a new replica and a recovery point are written to a temporary file, fsynced,
/// renamed into place and their directory fsynced before the call returns; replica writes are durable once
/// <see cref="IDiskSink.FlushAsync"/> returns. Layout: <c>replica.vhd</c> (or <c>.vhdx</c>, <c>.img</c>),
/// <c>fence</c>, <c>manifest</c>, <c>logs/NAME.log</c>, <c>points/ID.undo</c>.
/// </remarks>
public sealed class LocalDirectoryTarget : IReplicaTarget
{
    private readonly LocalDirectoryTargetOptions _options;

    /// <summary>
    /// Uses <paramref name="directory"/>. Nothing is created here: the directory (and its sub-folders) is created by the
    /// first call that stores something (<see cref="CreateReplicaAsync"/>, <see cref="PutLogAsync"/>).
    /// </summary>
    /// <param name="directory">The site's folder.</param>
    /// <param name="options">Replica format, lease, fence wait, undo chunks; <see cref="LocalDirectoryTargetOptions.Default"/> when null.</param>
    /// <param name="timeProvider">The clock leases and recovery points are measured with; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">The path is empty, or names a file, or the options are invalid.</exception>
    /// <exception cref="ReplicaTargetException">
    /// <see cref="ReplicationErrorCode.Conflict"/> when the directory holds a replica in another format than
    /// <see cref="LocalDirectoryTargetOptions.ReplicaFormat"/> asks for, or replicas in more than one format: a site holds
    /// one replica, in the format it was created with.
    /// </exception>
    public LocalDirectoryTarget(string directory, LocalDirectoryTargetOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _options = options ?? LocalDirectoryTargetOptions.Default;
        OptionFailures.ThrowIfAny(_options.Validate(), nameof(options));
        Time = timeProvider ?? TimeProvider.System;
        Location = Path.GetFullPath(directory);
        if (File.Exists(Location))
        {
            throw new ArgumentException($"{Location} is a file, not a directory.", nameof(directory));
        }

        ReplicaFormat = ResolveFormat(Location, _options.ReplicaFormat);
        ReplicaPath = Path.Combine(Location, ReplicaFileName(ReplicaFormat));
        LogsDirectory = Path.Combine(Location, "logs");
        PointsDirectory = Path.Combine(Location, "points");
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>The replica's file.</summary>
    public string ReplicaPath { get; }

    /// <summary>The replica's format: the one the site's replica was created with, or the one a new replica gets.</summary>
    public DiskFormat ReplicaFormat { get; }

    /// <inheritdoc />
    /// <remarks>
    /// Sizes are whole 512-byte sectors up to the format's limit (2040 GiB for a VHD, 64 TiB for a VHDX); recovery points
    /// are undo logs, not snapshots; zeroing a raw or VHD replica punches a hole in its file where the file system can.
    /// </remarks>
    public ReplicaTargetCapabilities Capabilities => new(512, ReplicaFormat switch
    {
        DiskFormat.Vhd => Disks.Vhd.VhdLayout.MaxDynamicSize,
        DiskFormat.Vhdx => Disks.Vhdx.VhdxLayout.MaxVirtualSize,
        _ => long.MaxValue / 512 * 512,
    })
    {
        FreesZeroedRanges = ReplicaFormat is DiskFormat.Raw or DiskFormat.Vhd,
    };

    internal string LogsDirectory { get; }

    internal string PointsDirectory { get; }

    internal string ManifestPath => Path.Combine(Location, "manifest");

    internal string FencePath => Path.Combine(Location, "fence");

    internal LocalDirectoryTargetOptions Options => _options;

    internal TimeProvider Time { get; }

    /// <inheritdoc />
    public async ValueTask<StagedLog> PutLogAsync(string name, Stream content, UInt128? expectedHash = null, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckName(name, "log");
        ArgumentNullException.ThrowIfNull(content);
        string path = LogPath(name);
        if (SealedFile.ReadHeader(path) is { } existing)
        {
            return await ReplicaRequests.SameAsStagedAsync(Location, path, name, content, expectedHash, existing, cancellationToken).ConfigureAwait(false);
        }

        EnsureDirectory(LogsDirectory);
        (UInt128 stored, long storedLength) = await SealedFile.WriteAsync(path, content, expectedHash, null, null, UInt128.Zero, cancellationToken).ConfigureAwait(false);
        return new StagedLog(name, storedLength, stored);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StagedLog> ListLogsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        if (!Directory.Exists(LogsDirectory))
        {
            yield break;
        }

        var names = Directory.EnumerateFiles(LogsDirectory, "*.log")
            .Select(Path.GetFileName)
            .Select(f => f![..^4])
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (string name in names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (SealedFile.ReadHeader(LogPath(name)) is { } header)
            {
                yield return new StagedLog(name, header.Length, header.Hash);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenLogAsync(string name, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckName(name, "log");
        return await SealedFile.OpenVerifiedAsync(LogPath(name), cancellationToken).ConfigureAwait(false)
            ?? throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{Location}: no log named '{name}' is staged.");
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteLogAsync(string name, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckName(name, "log");
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(DurableFile.Delete(LogPath(name)));
    }

    /// <inheritdoc />
    public ValueTask<long?> GetReplicaSizeAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(ReplicaPath))
        {
            return ValueTask.FromResult<long?>(null);
        }

        using VirtualDisk disk = OpenReplicaFile(writable: false);
        return ValueTask.FromResult<long?>(disk.VirtualSize);
    }

    /// <inheritdoc />
    public async ValueTask<bool> CreateReplicaAsync(long virtualSize, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckSize(virtualSize);
        if (await GetReplicaSizeAsync(cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return existing == virtualSize
                ? false
                : throw new ReplicaTargetException(
                    ReplicationErrorCode.Conflict, false, $"{ReplicaPath}: a replica of {existing} bytes exists; it cannot become {virtualSize} bytes.");
        }

        EnsureDirectory(PointsDirectory);
        string temporary = ReplicaPath + ".creating";
        File.Delete(temporary);
        var options = new DiskCreateOptions { Format = ReplicaFormat, Type = DiskType.Fixed, VirtualSize = virtualSize };
        using (VirtualDisk disk = VirtualDisk.Create(temporary, options))
        {
            await disk.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            File.Move(temporary, ReplicaPath, overwrite: false);
        }
        catch (IOException) when (File.Exists(ReplicaPath))
        {
            // Another caller created it first: harmless when the size is the same.
            File.Delete(temporary);
            return await CreateReplicaAsync(virtualSize, cancellationToken).ConfigureAwait(false);
        }

        DurableFile.FlushDirectory(Location);
        return true;
    }

    /// <inheritdoc />
    public ValueTask<IVirtualDisk> OpenReplicaAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IVirtualDisk>(OpenReplicaFile(writable: false));
    }

    /// <inheritdoc />
    public async ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default)
    {
        UInt128? stamp = File.Exists(ReplicaPath) ? ReplicaStamp(null) : null;
        return await OpenManifestAsync(stamp, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<RecoveryPoint> ListRecoveryPointsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (long id in PointIds())
        {
            cancellationToken.ThrowIfCancellationRequested();
            string path = Path.Combine(PointsDirectory, UndoLog.FileName(id));
            if (File.Exists(path))
            {
                yield return UndoLog.ReadPoint(path);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<IVirtualDisk> OpenRecoveryPointAsync(string id, CancellationToken cancellationToken = default)
    {
        long point = ParsePointId(id);
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(Path.Combine(PointsDirectory, UndoLog.FileName(point))))
        {
            throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{Location}: there is no recovery point '{id}'.");
        }

        VirtualDisk replica = OpenReplicaFile(writable: false);
        return ValueTask.FromResult<IVirtualDisk>(new RecoveryPointDisk(replica, PointsDirectory, point));
    }

    /// <inheritdoc />
    public async ValueTask<IReplicaWriter> AcquireWriterAsync(ReplicaWriterOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= ReplicaWriterOptions.Default;
        if (!File.Exists(ReplicaPath))
        {
            throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{ReplicaPath}: no replica exists; create it first.");
        }

        EnsureDirectory(PointsDirectory);
        LocalFence fence = await LocalFence.AcquireAsync(
            FencePath, _options.LeaseDuration, _options.FenceWaitTimeout, options.BreakExisting, Time, cancellationToken).ConfigureAwait(false);
        VirtualDisk? replica = null;
        UndoLog? undo = null;
        try
        {
            // The replica as the fence found it, before this writer changes anything: the stored manifest is trusted
            // only when it was recorded for exactly this state.
            UInt128 fileStamp = FileStamp.Of(ReplicaPath);
            replica = OpenReplicaFile(writable: true);
            if (PointIds().LastOrDefault() is var newest and > 0)
            {
                undo = UndoLog.Open(Path.Combine(PointsDirectory, UndoLog.FileName(newest)), writable: true);
            }

            return new LocalReplicaWriter(this, fence, replica, undo, CombineStamp(fileStamp, replica.DataWriteGuid));
        }
        catch
        {
            undo?.Dispose();
            replica?.Dispose();
            await fence.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
            fence.Dispose();
            throw;
        }
    }

    /// <summary>The replica's stamp: its file's identity and change times, and its DataWriteGuid when it is a VHDX.</summary>
    /// <param name="open">The replica when it is open (its DataWriteGuid is read from it), or null to read it from the file.</param>
    internal UInt128 ReplicaStamp(VirtualDisk? open)
    {
        UInt128 file = FileStamp.Of(ReplicaPath);
        if (open is not null || ReplicaFormat != DiskFormat.Vhdx)
        {
            return CombineStamp(file, open?.DataWriteGuid);
        }

        using VirtualDisk disk = VirtualDisk.Open(ReplicaPath, DiskOpenOptions.ReadOnlyAccess);
        return CombineStamp(file, disk.DataWriteGuid);
    }

    /// <summary>
    /// The stored manifest when its recorded stamp is <paramref name="replicaStamp"/>; otherwise none, with the reason.
    /// </summary>
    internal async ValueTask<StoredManifest> OpenManifestAsync(UInt128? replicaStamp, CancellationToken cancellationToken)
    {
        if (replicaStamp is null)
        {
            return StoredManifest.None($"{Location}: no replica exists.");
        }

        if (SealedFile.ReadStampedHeader(ManifestPath) is not { } header)
        {
            return StoredManifest.None($"{Location}: no manifest is stored.");
        }

        if (header.Stamp == UInt128.Zero)
        {
            return StoredManifest.None($"{ManifestPath}: the manifest records no replica stamp (stored by an older version).");
        }

        if (header.Stamp != replicaStamp)
        {
            return StoredManifest.None(
                $"{ReplicaPath}: the replica changed since its manifest was stored (its stamp differs: written, restored or replaced by something other than this tool).");
        }

        Stream? content = await SealedFile.OpenVerifiedAsync(ManifestPath, cancellationToken).ConfigureAwait(false);
        return content is null ? StoredManifest.None($"{Location}: no manifest is stored.") : StoredManifest.Current(content, ManifestPath);
    }

    internal List<long> PointIds() => Directory.Exists(PointsDirectory) ? UndoLog.Ids(PointsDirectory) : [];

    internal long ParsePointId(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out long point) && point > 0
            ? point
            : throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{Location}: '{id}' is not a recovery point id of this target.");
    }

    private VirtualDisk OpenReplicaFile(bool writable)
    {
        if (!File.Exists(ReplicaPath))
        {
            throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{ReplicaPath}: no replica exists; create it first.");
        }

        VirtualDisk disk = VirtualDisk.Open(ReplicaPath, writable ? DiskOpenOptions.Default : DiskOpenOptions.ReadOnlyAccess);
        if (disk.Format != ReplicaFormat || disk.DiskType != DiskType.Fixed)
        {
            // Replaced by something else outside this tool: never written as if it were the site's replica.
            string found = $"{FormatName(disk.Format)} ({disk.DiskType.ToString().ToLowerInvariant()})";
            disk.Dispose();
            throw new InvalidDiskFormatException(ReplicaPath, 0, "replica format", $"the site's replica must be a fixed {FormatName(ReplicaFormat)} disk, but the file is {found}");
        }

        return disk;
    }

    private string LogPath(string name) => Path.Combine(LogsDirectory, name + ".log");

    private static UInt128 CombineStamp(UInt128 file, Guid? dataWriteGuid)
    {
        if (dataWriteGuid is not { } guid)
        {
            return file;
        }

        Span<byte> bytes = stackalloc byte[32];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128LittleEndian(bytes, file);
        guid.TryWriteBytes(bytes[16..]);
        UInt128 value = System.IO.Hashing.XxHash128.HashToUInt128(bytes);
        return value == UInt128.Zero ? UInt128.One : value;
    }

    private static string ReplicaFileName(DiskFormat format) => "replica" + format switch
    {
        DiskFormat.Raw => ".img",
        DiskFormat.Vhdx => ".vhdx",
        _ => ".vhd",
    };

    /// <summary>The format of the replica the directory holds, checked against the one asked for; VHD for a new site.</summary>
    private static DiskFormat ResolveFormat(string location, DiskFormat? requested)
    {
        DiskFormat[] present = [.. new[] { DiskFormat.Vhd, DiskFormat.Vhdx, DiskFormat.Raw }.Where(f => File.Exists(Path.Combine(location, ReplicaFileName(f))))];
        if (present.Length > 1)
        {
            throw new ReplicaTargetException(
                ReplicationErrorCode.Conflict,
                false,
                $"{location}: the site holds replicas in more than one format ({string.Join(", ", present.Select(ReplicaFileName))}); a site holds one replica: keep the right one and remove the others and the manifest.");
        }

        if (present.Length == 1 && requested is { } asked && asked != present[0])
        {
            throw new ReplicaTargetException(
                ReplicationErrorCode.Conflict,
                false,
                $"{location}: the site's replica is {FormatName(present[0])} ({ReplicaFileName(present[0])}); it cannot also hold a {FormatName(asked)} one. Use the site's format, or another site.");
        }

        return present.Length == 1 ? present[0] : requested ?? DiskFormat.Vhd;
    }

    private static string FormatName(DiskFormat format) => format switch
    {
        DiskFormat.Raw => "raw",
        DiskFormat.Vhdx => "vhdx",
        _ => "vhd",
    };

    private static void EnsureDirectory(string directory) => DurableFile.CreateDirectory(directory);
}
