using System.Buffers;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.IO;
using System.Runtime.CompilerServices;

namespace Replication.Core.Targets.Local;

/// <summary>
/// The writer of a local replica. Every change runs inside the fence (<see cref="LocalFence.EnterAsync"/>); while a
/// recovery point exists, the first overwrite of each chunk after the newest point first appends the chunk's
/// pre-image to that point's undo log and fsyncs it. The first change to the data withdraws the stored manifest
/// (deleted durably) before it is made; a manifest written later records the replica's stamp.
/// </summary>
internal sealed class LocalReplicaWriter : IReplicaWriter
{
    private readonly LocalDirectoryTarget _target;
    private readonly LocalFence _fence;
    private readonly VirtualDisk _replica;
    private readonly SemaphoreSlim _undoGate = new(1, 1);
    private readonly ManifestGate<UInt128> _manifest;
    private UndoLog? _undo;
    private int _disposed;
    private readonly FenceKeeper _keeper;

    /// <param name="target">The target whose replica this writer changes.</param>
    /// <param name="fence">The fence this writer holds.</param>
    /// <param name="replica">The replica, open for writing.</param>
    /// <param name="undo">The newest recovery point's undo log, or null.</param>
    /// <param name="stamp">The replica's stamp when the fence was taken, before this writer changed anything.</param>
    public LocalReplicaWriter(LocalDirectoryTarget target, LocalFence fence, VirtualDisk replica, UndoLog? undo, UInt128 stamp)
    {
        _target = target;
        _fence = fence;
        _replica = replica;
        _undo = undo;
        _manifest = new ManifestGate<UInt128>(target.Location, stamp);
        _keeper = new FenceKeeper(this, fence.Duration, target.Time);
    }

    public string Location => _target.Location;

    public long VirtualSize => _replica.VirtualSize;

    public int WriteAlignment => ReplicaRequests.SectorSize;

    public bool IsReadOnly => false;

    public long FenceEpoch => _fence.Epoch;

    public DateTimeOffset? FenceExpiresAt => _fence.ExpiresAt;

    public ValueTask RenewAsync(CancellationToken cancellationToken = default) => _fence.RenewAsync(cancellationToken);

    public ValueTask ReleaseAsync(CancellationToken cancellationToken = default) => _fence.ReleaseAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckRange(offset, data.Length, VirtualSize, Location);
        await _fence.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WithdrawManifestAsync(cancellationToken).ConfigureAwait(false);
            await CaptureAsync(offset, data.Length, cancellationToken).ConfigureAwait(false);
            await _replica.WriteAsync(offset, data, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _fence.Exit();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckRange(offset, length, VirtualSize, Location);
        await _fence.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WithdrawManifestAsync(cancellationToken).ConfigureAwait(false);
            await CaptureAsync(offset, length, cancellationToken).ConfigureAwait(false);
            await _replica.ZeroAsync(offset, length, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _fence.Exit();
        }
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckInside(offset, destination.Length, VirtualSize, Location);
        return _replica.ReadAsync(offset, destination, cancellationToken);
    }

    public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length)
    {
        ReplicaRequests.CheckInside(offset, length, VirtualSize, Location);
        return _replica.GetAllocatedExtents(offset, length);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await _fence.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _replica.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _fence.Exit();
        }
    }

    public ValueTask WriteManifestAsync(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        return _manifest.WriteAsync(
            static async (s, ct) =>
            {
                // The stamp is taken once every write is durable: from here on, any change to the file moves it.
                await s.Writer.FlushAsync(ct).ConfigureAwait(false);
                UInt128 stamp = s.Writer._target.ReplicaStamp(s.Writer._replica);
                await SealedFile.WriteAsync(
                    s.Writer._target.ManifestPath,
                    s.Content,
                    expectedHash: null,
                    beforeCommit: () => s.Writer._fence.EnterAsync(ct),
                    afterCommit: s.Writer._fence.Exit,
                    stamp,
                    ct).ConfigureAwait(false);
                s.Writer._manifest.Record(stamp);
            },
            (Writer: this, Content: content),
            cancellationToken);
    }

    public ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default) =>
        _manifest.OpenAsync(static (target, stamp, ct) => target.OpenManifestAsync(stamp, ct), _target, cancellationToken);

    public async ValueTask<RecoveryPoint> CreateRecoveryPointAsync(string? label = null, CancellationToken cancellationToken = default)
    {
        ReplicaRequests.CheckLabel(label);
        await _fence.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _replica.FlushAsync(cancellationToken).ConfigureAwait(false);
            await _undoGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                long id = (_target.PointIds().LastOrDefault() is var newest and > 0 ? newest : 0) + 1;
                UndoLog created = UndoLog.Create(
                    _target.PointsDirectory, id, _target.Time.GetUtcNow(), label, VirtualSize, _target.Options.UndoChunkSize);
                _undo?.Dispose();
                _undo = created;
                return new RecoveryPoint(id.ToString(System.Globalization.CultureInfo.InvariantCulture), created.CreatedAt, created.Label);
            }
            finally
            {
                _undoGate.Release();
            }
        }
        finally
        {
            _fence.Exit();
        }
    }

    public async ValueTask<bool> DeleteRecoveryPointAsync(string id, CancellationToken cancellationToken = default)
    {
        long point = _target.ParsePointId(id);
        await _fence.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _undoGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                List<long> ids = _target.PointIds();
                int index = ids.IndexOf(point);
                if (index < 0)
                {
                    return false;
                }

                string path = Path.Combine(_target.PointsDirectory, UndoLog.FileName(point));
                bool current = _undo?.Id == point;
                UndoLog deleted = current ? _undo! : UndoLog.Open(path, writable: false);
                UndoLog? previous = null;
                try
                {
                    if (index > 0)
                    {
                        // The older point still needs the pre-images this one captured: fold them into its log first.
                        // Repeating the merge after a crash appends nothing new.
                        previous = UndoLog.Open(Path.Combine(_target.PointsDirectory, UndoLog.FileName(ids[index - 1])), writable: true);
                        Merge(deleted, previous);
                    }
                }
                finally
                {
                    deleted.Dispose();
                }

                if (current)
                {
                    // New writes now capture into the older point's log.
                    _undo = previous;
                }
                else
                {
                    previous?.Dispose();
                }

                DurableFile.Delete(path);
                return true;
            }
            finally
            {
                _undoGate.Release();
            }
        }
        finally
        {
            _fence.Exit();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _keeper.DisposeAsync().ConfigureAwait(false);
            await _fence.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (ReplicaTargetException ex) when (ex.Code == ReplicationErrorCode.FenceLost)
        {
            // Already fenced off: there is nothing left to release.
        }
        finally
        {
            _undo?.Dispose();
            _replica.Dispose();
            _fence.Dispose();
            _undoGate.Dispose();
            _manifest.Dispose();
        }
    }

    /// <summary>Deletes the stored manifest, durably, before the first change to the replica's data it describes.</summary>
    public ValueTask WithdrawManifestAsync(CancellationToken cancellationToken = default) =>
        _manifest.WithdrawAsync(
            static (target, _) =>
            {
                DurableFile.Delete(target.ManifestPath);
                return ValueTask.CompletedTask;
            },
            _target,
            cancellationToken);

    /// <summary>Makes sure the pre-image of every chunk in the range is durable in the newest point's undo log.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CaptureAsync(long offset, long length, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _undo) is null || length == 0)
        {
            return;
        }

        await _undoGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            UndoLog? undo = _undo;
            if (undo is null)
            {
                return;
            }

            int chunkSize = undo.ChunkSize;
            bool appended = false;
            byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkSize);
            try
            {
                for (long chunk = offset / chunkSize; chunk * chunkSize < offset + length; chunk++)
                {
                    if (!undo.TryGet(chunk, out _))
                    {
                        int n = (int)Math.Min(chunkSize, VirtualSize - chunk * chunkSize);
                        await _replica.ReadAsync(chunk * chunkSize, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                        undo.Append(chunk, buffer.AsSpan(0, n));
                        appended = true;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (appended)
            {
                undo.Sync();
            }
        }
        finally
        {
            _undoGate.Release();
        }
    }

    private static void Merge(UndoLog from, UndoLog into)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(from.ChunkSize);
        try
        {
            foreach (long chunk in from.Chunks.Order())
            {
                if (!into.TryGet(chunk, out _) && from.TryGet(chunk, out (long Offset, int Length) entry))
                {
                    from.ReadData(entry, buffer);
                    into.Append(chunk, buffer.AsSpan(0, entry.Length));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        into.Sync();
    }
}
