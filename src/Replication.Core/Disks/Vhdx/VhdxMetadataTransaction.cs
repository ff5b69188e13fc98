namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// The metadata changes of one write, collected as whole 4 KiB file sectors (BAT and sector bitmap sectors) so they
/// can go through the log as one entry, plus the BAT entries to publish in memory once the entry is applied.
/// </summary>
internal sealed class VhdxMetadataTransaction
{
    private readonly SortedDictionary<long, byte[]> _sectors = [];
    private readonly Dictionary<long, ulong> _batEntries = [];

    /// <summary>Number of distinct 4 KiB sectors changed.</summary>
    public int SectorCount => _sectors.Count;

    /// <summary>True when nothing has changed.</summary>
    public bool IsEmpty => _sectors.Count == 0;

    /// <summary>The changed sectors by file offset, ascending.</summary>
    public IReadOnlyDictionary<long, byte[]> Sectors => _sectors;

    /// <summary>The BAT entries changed, by index.</summary>
    public IReadOnlyDictionary<long, ulong> BatEntries => _batEntries;

    /// <summary>The BAT entry as this transaction left it, if it changed one.</summary>
    public bool TryGetBatEntry(long index, out ulong value) => _batEntries.TryGetValue(index, out value);

    /// <summary>Records a new BAT entry value (the caller also patches its sector).</summary>
    public void SetBatEntry(long index, ulong value) => _batEntries[index] = value;

    /// <summary>The sector at <paramref name="fileOffset"/> if this transaction changed it, else null.</summary>
    public byte[]? Find(long fileOffset) => _sectors.TryGetValue(fileOffset, out byte[]? sector) ? sector : null;

    /// <summary>The sector at <paramref name="fileOffset"/> for modification, loaded by <paramref name="load"/> the first time.</summary>
    public byte[] GetForUpdate(long fileOffset, Action<long, byte[]> load)
    {
        if (!_sectors.TryGetValue(fileOffset, out byte[]? sector))
        {
            sector = new byte[VhdxLayout.LogSectorSize];
            load(fileOffset, sector);
            _sectors.Add(fileOffset, sector);
        }

        return sector;
    }

    /// <summary>Forgets everything, after a commit.</summary>
    public void Clear()
    {
        _sectors.Clear();
        _batEntries.Clear();
    }
}
