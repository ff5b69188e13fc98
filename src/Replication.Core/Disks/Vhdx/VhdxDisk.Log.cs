namespace Replication.Core.Disks.Vhdx;

internal sealed partial class VhdxDisk
{
    /// <summary>
    /// Renews DataWriteGuid (and, on the first header update of the session, FileWriteGuid) before the first data write
    /// of this open lands, so a reader comparing DataWriteGuid never misses a change.
    /// </summary>
    private void EnsureDataWriteGuid()
    {
        if (_dataWriteGuidRenewed)
        {
            return;
        }

        lock (_lock)
        {
            ThrowIfFailed();
            if (_dataWriteGuidRenewed)
            {
                return;
            }

            try
            {
                _headers.Update(h => h with { DataWriteGuid = Guid.NewGuid() });
            }
            catch
            {
                _failed = true;
                throw;
            }

            _dataWriteGuidRenewed = true;
        }
    }

    /// <summary>
    /// Makes the metadata changes of <paramref name="transaction"/> durable through the log: payload data flushed,
    /// log entry written and flushed, sectors written to their final location and flushed, then the new BAT entries
    /// published to readers.
    /// </summary>
    private void CommitLocked(VhdxMetadataTransaction transaction)
    {
        if (transaction.IsEmpty)
        {
            return;
        }

        EnsureLogStartedLocked();

        // The data the new entries point at must be on disk before the log can make them visible.
        _file.Flush();
        Fault("before-log-write");
        _log.Write(transaction.Sectors, _fileEnd);
        Fault("after-log-flush");
        foreach (KeyValuePair<long, byte[]> sector in transaction.Sectors)
        {
            _file.Write(sector.Key, sector.Value);
        }

        Fault("after-final-write");
        _file.Flush();
        // Sector bitmap entries first: a reader that sees a partially present block must find its bitmap block.
        foreach (bool bitmaps in (bool[])[true, false])
        {
            foreach (KeyValuePair<long, ulong> entry in transaction.BatEntries)
            {
                if (IsBitmapIndex(entry.Key) == bitmaps)
                {
                    Volatile.Write(ref _bat[entry.Key], entry.Value);
                }
            }
        }

        transaction.Clear();
    }

    /// <summary>
    /// First log use of the session: the file is made a whole number of MiB (so its flushed size is exact), an empty
    /// entry is written and flushed under a new LogGuid, and only then is the LogGuid published in the header.
    /// </summary>
    private void EnsureLogStartedLocked()
    {
        if (_log.IsActive)
        {
            return;
        }

        if (_file.Length != _fileEnd)
        {
            _file.SetLength(_fileEnd);
        }

        _file.Flush();
        var logGuid = Guid.NewGuid();
        _log.Start(logGuid, _fileEnd);
        _headers.Update(h => h with { LogGuid = logGuid });
    }

    private void Fault(string point) => FaultInjection?.Invoke(point);

    private void ThrowIfFailed()
    {
        if (_failed)
        {
            throw new ReplicationException(
                ReplicationErrorCode.IoFailure,
                false,
                $"{_file.Path}: an earlier metadata update of this VHDX failed part-way; reopen the disk (its log restores a consistent state).");
        }
    }
}
