using System.Buffers;
using Replication.Core.Disks;

namespace Replication.Core.Targets.Local;

/// <summary>
/// A local recovery point, read-only: the replica overlaid with the point's undo log and every newer one (for each
/// chunk, the oldest pre-image captured at or after the point wins). The replica is read first and the undo logs
/// looked at after, so a write racing with the read is seen either as captured or as not yet made.
/// </summary>
internal sealed class RecoveryPointDisk : ReadOnlyReplicaDisk
{
    private readonly VirtualDisk _replica;
    private readonly string _pointsDirectory;
    private readonly long _id;
    private readonly Dictionary<long, UndoLog> _logs = [];
    private readonly object _lock = new();

    public RecoveryPointDisk(VirtualDisk replica, string pointsDirectory, long id)
    {
        _replica = replica;
        _pointsDirectory = pointsDirectory;
        _id = id;
    }

    public override DiskFormat Format => _replica.Format;

    public override long VirtualSize => _replica.VirtualSize;

    public override int LogicalSectorSize => _replica.LogicalSectorSize;

    public override int BlockSize => _replica.BlockSize;

    public override long AllocatedBytes => VirtualSize;

    protected override void ReadCore(long offset, Span<byte> destination)
    {
        _replica.Read(offset, destination);
        lock (_lock)
        {
            List<UndoLog> chain = Chain();
            if (chain.Count == 0 || chain[0].Id != _id)
            {
                throw new ReplicaTargetException(ReplicationErrorCode.NotFound, false, $"{_pointsDirectory}: recovery point {_id} was deleted.");
            }

            int chunkSize = chain[0].ChunkSize;
            byte[] preImage = ArrayPool<byte>.Shared.Rent(chunkSize);
            try
            {
                long end = offset + destination.Length;
                for (long chunk = offset / chunkSize; chunk * chunkSize < end; chunk++)
                {
                    foreach (UndoLog log in chain)
                    {
                        if (log.TryGet(chunk, out (long Offset, int Length) entry))
                        {
                            log.ReadData(entry, preImage);
                            long chunkStart = chunk * chunkSize;
                            long from = Math.Max(offset, chunkStart);
                            long to = Math.Min(end, chunkStart + entry.Length);
                            preImage.AsSpan((int)(from - chunkStart), (int)(to - from)).CopyTo(destination[(int)(from - offset)..]);
                            break;
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(preImage);
            }
        }
    }

    /// <summary>This point's undo log and every newer one, oldest first, each brought up to date.</summary>
    private List<UndoLog> Chain()
    {
        List<long> ids = UndoLog.Ids(_pointsDirectory);
        ids.RemoveAll(id => id < _id);
        foreach (long gone in _logs.Keys.Where(k => !ids.Contains(k)).ToList())
        {
            _logs[gone].Dispose();
            _logs.Remove(gone);
        }

        var chain = new List<UndoLog>(ids.Count);
        foreach (long id in ids)
        {
            if (!_logs.TryGetValue(id, out UndoLog? log))
            {
                log = UndoLog.Open(Path.Combine(_pointsDirectory, UndoLog.FileName(id)), writable: false);
                _logs[id] = log;
            }
            else
            {
                log.Refresh();
            }

            chain.Add(log);
        }

        return chain;
    }

    protected override IEnumerable<DiskExtent> GetAllocatedExtentsCore(long offset, long length) => [new DiskExtent(offset, length)];

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (UndoLog log in _logs.Values)
            {
                log.Dispose();
            }

            _replica.Dispose();
        }
    }
}
