using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// Appends entries to the log ring. Every entry written here is applied to its final location and flushed before the
/// next one is written, so each entry is a sequence of its own: its tail points at itself.
/// </summary>
internal sealed class VhdxLogWriter
{
    private const int Sector = VhdxLayout.LogSectorSize;

    private readonly DiskFile _file;
    private readonly long _logOffset;
    private readonly int _logLength;
    private long _position;
    private ulong _sequenceNumber;

    public VhdxLogWriter(DiskFile file, long logOffset, int logLength)
    {
        _file = file;
        _logOffset = logOffset;
        _logLength = logLength;
    }

    /// <summary>The LogGuid entries are written under, or empty before <see cref="Start"/>.</summary>
    public Guid LogGuid { get; private set; }

    /// <summary>True once <see cref="Start"/> has run this session.</summary>
    public bool IsActive => LogGuid != Guid.Empty;

    /// <summary>The most data sectors one entry can carry in this log.</summary>
    public int MaxDataSectors
    {
        get
        {
            long sectors = _logLength / Sector;
            return (int)Math.Max(0, sectors - VhdxLogEntryHeader.DescriptorSectors(sectors));
        }
    }

    /// <summary>
    /// Writes an empty entry under <paramref name="logGuid"/> at the start of the log and flushes it. The caller
    /// publishes the GUID in the header afterwards, so a header naming this GUID always finds a valid entry, whatever
    /// point a crash stops at. Until then the header's LogGuid is zero, so no valid entry is being overwritten.
    /// </summary>
    public void Start(Guid logGuid, long fileSize)
    {
        LogGuid = logGuid;
        _position = 0;
        _sequenceNumber = 1;
        Write(new Dictionary<long, byte[]>(), fileSize);
    }

    /// <summary>Forgets the GUID after the header's LogGuid has been cleared.</summary>
    public void Stop() => LogGuid = Guid.Empty;

    /// <summary>
    /// Writes one entry holding <paramref name="sectors"/> (4 KiB updates by file offset) and flushes it.
    /// <paramref name="fileSize"/> is the file's current, flushed length; it is both the entry's FlushedFileOffset and
    /// its LastFileOffset.
    /// </summary>
    public void Write(IReadOnlyDictionary<long, byte[]> sectors, long fileSize)
    {
        if (!IsActive)
        {
            throw new InvalidOperationException("The log has not been started.");
        }

        if (sectors.Count > MaxDataSectors)
        {
            throw new InvalidOperationException($"{sectors.Count} sectors do not fit in one entry of a {_logLength}-byte log.");
        }

        long descriptorSectors = VhdxLogEntryHeader.DescriptorSectors(sectors.Count);
        int length = (int)((descriptorSectors + sectors.Count) * Sector);
        if (_position + length > _logLength)
        {
            // Entries are kept contiguous; every earlier entry is applied, so the start of the ring is free.
            _position = 0;
        }

        byte[] entry = new byte[length];
        var header = new VhdxLogEntryHeader
        {
            EntryLength = (uint)length,
            Tail = (uint)_position,
            SequenceNumber = _sequenceNumber,
            DescriptorCount = (uint)sectors.Count,
            LogGuid = LogGuid,
            FlushedFileOffset = (ulong)fileSize,
            LastFileOffset = (ulong)fileSize,
        };
        header.WriteTo(entry);
        int index = 0;
        foreach (KeyValuePair<long, byte[]> pair in sectors)
        {
            long slot = index + 2;
            int descriptorAt = (int)(((slot / 128) * Sector) + ((slot % 128) * VhdxLogDescriptor.Size));
            VhdxLogDescriptor.ForData(pair.Value, pair.Key, _sequenceNumber).WriteTo(entry.AsSpan(descriptorAt));
            VhdxLogDataSector.WriteTo(entry.AsSpan((int)((descriptorSectors + index) * Sector), Sector), pair.Value, _sequenceNumber);
            index++;
        }

        VhdxChecksum.Seal(entry, VhdxLogEntryHeader.ChecksumOffset);
        _file.Write(_logOffset + _position, entry);
        _file.Flush();
        _position += length;
        if (_position >= _logLength)
        {
            _position = 0;
        }

        _sequenceNumber++;
    }
}
