using System.Buffers;
using Microsoft.Win32.SafeHandles;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// Writes a new HRL log (format version 2): the header first, with <c>EOLLocation</c> 0 (open for writing), then
/// batches of writes, each batch being the data of its entries followed by a metadata block describing them, and at
/// last the seal that sets <c>EOLLocation</c>.
/// </summary>
/// <remarks>
/// <para>
/// Durability is the caller's to group: <see cref="Append(long, ReadOnlySpan{byte}, DateTimeOffset)"/> only buffers;
/// <see cref="Commit"/> writes the pending batch and its metadata block (a commit point a recovery scan can find);
/// <see cref="Flush"/> makes every committed batch durable. A write is durable once <see cref="Commit"/> and then
/// <see cref="Flush"/> have returned after it. A crash loses at most the batches not yet flushed, and leaves a log
/// that <see cref="HrlReader.Recover"/> reads up to its last complete batch.
/// </para>
/// <para>
/// Every disk offset and data length must be a multiple of 512 bytes: the tracker widens unaligned guest writes before
/// they reach the log. A batch with more entries than a metadata block holds is split into several blocks.
/// </para>
/// <para>
/// One caller appends, commits or seals at a time; <see cref="Flush"/> may run on another thread concurrently with
/// them (a group commit fsyncs while writers keep appending). After an I/O failure the writer is faulted and every
/// further call throws; the file stays a valid, unsealed log up to its last complete batch.
/// </para>
/// </remarks>
public sealed class HrlWriter : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly TimeProvider _timeProvider;
    private readonly HrlFileHeader _header;
    private readonly int _metadataSize;
    private readonly int _capacity;
    private byte[] _data;
    private byte[] _metadata;

    // Pending data: _data[0.._dataLength) goes to the file at _dataFilePosition; _position is the end of the log
    // including every appended byte; _previousMetadata is the position of the last metadata block written (-1: none).
    private int _dataLength;
    private long _dataFilePosition = HrlFormat.HeaderSize;
    private long _position = HrlFormat.HeaderSize;
    private long _previousMetadata = -1;
    private int _entryCount;
    private long _committedEntries;
    private long _blockCount;

    // A State, changed only with Interlocked (Fault, Seal, Dispose): the appender, a flush on the group-commit thread, the
    // threads writing reserved data and a Dispose when tracking stops change it concurrently, so each transition reads
    // and writes it in one step and none leaves Sealed or Disposed.
    private int _state;

    // Log positions of reserved entries whose data is still being written by their callers (see Reserve). Guarded by
    // itself; a flush waits on it for the reserved writes below the commit point it covers.
    private readonly List<long> _reserved = [];
    private bool _reservedWaiter;

    private HrlWriter(string path, SafeFileHandle handle, TimeProvider timeProvider, HrlFileHeader header, HrlWriterOptions options)
    {
        FilePath = path;
        _handle = handle;
        _timeProvider = timeProvider;
        _header = header;
        _metadataSize = options.MetadataSize;
        _capacity = options.EntriesPerMetadataBlock;
        _data = ArrayPool<byte>.Shared.Rent(options.BufferSize);
        _metadata = ArrayPool<byte>.Shared.Rent(_metadataSize);
        _metadata.AsSpan(0, _metadataSize).Clear();
    }

    private enum State
    {
        Open,
        Faulted,
        Sealed,
        Disposed,
    }

    /// <summary>Full path of the log file.</summary>
    public string FilePath { get; }

    /// <summary>The header as written when the log was created (<c>EOLLocation</c> 0).</summary>
    public HrlFileHeader Header => _header;

    /// <summary>End of the log including appended but uncommitted data.</summary>
    public long Length => _position;

    /// <summary>End of the last metadata block written: what a recovery scan finds once it is flushed.</summary>
    public long CommittedLength => _previousMetadata < 0 ? HrlFormat.HeaderSize : _previousMetadata + _metadataSize;

    /// <summary>Entries written in complete metadata blocks.</summary>
    public long CommittedEntryCount => _committedEntries;

    /// <summary>Entries appended since the last metadata block.</summary>
    public int PendingEntryCount => _entryCount;

    /// <summary>True once <see cref="Seal"/> has returned.</summary>
    public bool IsSealed => CurrentState == State.Sealed;

    private State CurrentState => (State)Volatile.Read(ref _state);

    /// <summary>
    /// Creates a new log file, writes its header (<c>EOLLocation</c> 0) and makes the file and its directory entry
    /// durable.
    /// </summary>
    /// <param name="path">The file to create; it must not exist.</param>
    /// <param name="identity">The log's identifiers.</param>
    /// <param name="timeProvider">The clock for the header's time stamps.</param>
    /// <param name="options">Layout and buffering; <see cref="HrlWriterOptions.Default"/> when null.</param>
    /// <exception cref="IOException">The file exists or cannot be created.</exception>
    /// <exception cref="ArgumentException"><paramref name="identity"/> has an empty <see cref="HrlLogIdentity.UniqueId"/>, or the options are invalid.</exception>
    public static HrlWriter Create(string path, HrlLogIdentity identity, TimeProvider timeProvider, HrlWriterOptions? options = null) =>
        Create(path, identity, timeProvider, options, FileMode.CreateNew);

    private static HrlWriter Create(string path, HrlLogIdentity identity, TimeProvider timeProvider, HrlWriterOptions? options, FileMode mode)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (identity.UniqueId == Guid.Empty)
        {
            throw new ArgumentException("A log needs a non-empty UniqueId.", nameof(identity));
        }

        options ??= HrlWriterOptions.Default;
        OptionFailures.ThrowIfAny(options.Validate(), nameof(options));
        uint now = HrlTimestamp.FromDateTimeOffset(timeProvider.GetUtcNow());
        var header = new HrlFileHeader
        {
            LogFormatVersion = HrlFormat.Version2,
            TimeStamp = now,
            CreatorApplication = options.CreatorApplication,
            CreatorVersion = options.CreatorVersion,

            // As Hyper-V does: sizes are 0 while the log is open, CurrentSize is set with the seal.
            OriginalSize = 0,
            CurrentSize = 0,
            EolLocation = 0,
            ErrorCode = 0,
            MetadataSize = (uint)options.MetadataSize,
            UniqueId = identity.UniqueId,
            PreviousUniqueId = identity.PreviousUniqueId,
            LastModifiedTimeStamp = now,
            TotalMetadataEntries = 0,
            FileType = 0,
            Flags = 0,
            Vhd2DataWriteGuid = identity.Vhd2DataWriteGuid,
        };

        string full = Path.GetFullPath(path);
        SafeFileHandle handle = File.OpenHandle(full, mode, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            Span<byte> buffer = stackalloc byte[HrlFileHeader.Size];
            header = header.WriteWithChecksum(buffer);
            RandomAccess.Write(handle, buffer, 0);
            RandomAccess.FlushToDisk(handle);
            DurableFile.FlushDirectory(Path.GetDirectoryName(full)!);
            return new HrlWriter(full, handle, timeProvider, header, options);
        }
        catch (Exception)
        {
            handle.Dispose();
            DeleteAbandoned(full);
            throw;
        }
    }

    /// <summary>
    /// Creates a new log in a file of zeros prepared beforehand (renamed durably to <paramref name="path"/>), so the
    /// log's appends overwrite allocated space instead of growing the file: a file system then has no allocation to
    /// journal at each flush. The file stays longer than the log while it is written (a recovery scan reads the zeros
    /// and finds no block in them) and is cut to the log's end by <see cref="Seal"/>.
    /// </summary>
    /// <param name="zeroedFile">A file holding only zeros (holes count), on the same volume; it is consumed.</param>
    /// <param name="path">The log to create; it must not exist.</param>
    /// <param name="identity">The log's identifiers.</param>
    /// <param name="timeProvider">The clock for the header's time stamps.</param>
    /// <param name="options">Layout and buffering; <see cref="HrlWriterOptions.Default"/> when null.</param>
    /// <exception cref="IOException">The log exists, or the zeroed file does not.</exception>
    /// <exception cref="ArgumentException"><paramref name="identity"/> has an empty <see cref="HrlLogIdentity.UniqueId"/>.</exception>
    internal static HrlWriter CreateFromZeroedFile(string zeroedFile, string path, HrlLogIdentity identity, TimeProvider timeProvider, HrlWriterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(zeroedFile);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            throw new IOException($"{full}: the file already exists.");
        }

        File.Move(Path.GetFullPath(zeroedFile), full, overwrite: false);
        return Create(full, identity, timeProvider, options, FileMode.Open);
    }

    /// <summary>Appends a write, time-stamped with the writer's clock. See <see cref="Append(long, ReadOnlySpan{byte}, DateTimeOffset)"/>.</summary>
    public void Append(long diskOffset, ReadOnlySpan<byte> data) => Append(diskOffset, data, _timeProvider.GetUtcNow());

    /// <summary>
    /// Appends a write of <paramref name="data"/> at <paramref name="diskOffset"/> of the virtual disk to the pending
    /// batch. The data is copied (or, when larger than the buffer, written straight to the file); nothing is durable
    /// or visible to readers until <see cref="Commit"/> and <see cref="Flush"/>. When the current metadata block is
    /// full it is written first, which commits the entries before this one.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// The offset is negative or not a multiple of 512, the length is zero or not a multiple of 512, the write ends
    /// beyond 2^63, or the time is outside the HRL time stamp range.
    /// </exception>
    /// <exception cref="InvalidOperationException">The writer is sealed or faulted.</exception>
    /// <exception cref="ObjectDisposedException">The writer is disposed.</exception>
    public void Append(long diskOffset, ReadOnlySpan<byte> data, DateTimeOffset time)
    {
        CheckEntry(diskOffset, data.Length);
        uint timeStamp = HrlTimestamp.FromDateTimeOffset(time);
        EnsureWritable();
        try
        {
            if (_entryCount == _capacity)
            {
                WriteMetadataBlock();
            }

            var entry = new HrlMetadataEntry(
                (ulong)diskOffset,
                0,
                (uint)data.Length,
                timeStamp,
                HrlFormat.MetaOperationWrite,
                HrlChecksum.Compute(data),
                0);
            entry.WriteWithChecksum(_metadata.AsSpan(HrlMetadataHeader.Size + (_entryCount * HrlMetadataEntry.Size), HrlMetadataEntry.Size));
            WriteData(data);
            _entryCount++;
        }
        catch (Exception)
        {
            // The in-memory state may no longer match the file.
            Fault();
            throw;
        }
    }

    /// <summary>Reserves an entry time-stamped with the writer's clock. See <see cref="Reserve(long, int, uint, DateTimeOffset)"/>.</summary>
    internal long Reserve(long diskOffset, int length, uint dataChecksum) => Reserve(diskOffset, length, dataChecksum, _timeProvider.GetUtcNow());

    /// <summary>
    /// Appends an entry for a write whose data the caller writes into the log itself, with <see cref="WriteReserved"/>,
    /// at the returned position: the data goes from the caller's buffer to the file without a copy, and outside whatever
    /// serialises the calls that append, so a large write does not hold the other writers while it is written.
    /// </summary>
    /// <remarks>
    /// Serialised with <see cref="Append(long, ReadOnlySpan{byte}, DateTimeOffset)"/>, <see cref="Commit"/> and
    /// <see cref="Seal"/> as they are; the <see cref="WriteReserved"/> that follows may run concurrently with them.
    /// Every reservation must be followed by exactly one <see cref="WriteReserved"/> (or <see cref="AbandonReserved"/>): a batch whose data was not written
    /// is torn. <see cref="Flush"/> waits for the reserved writes of the batches it covers; <see cref="Seal"/> for all.
    /// </remarks>
    /// <param name="diskOffset">Where the write goes on the virtual disk: a multiple of 512.</param>
    /// <param name="length">Its length: a positive multiple of 512.</param>
    /// <param name="dataChecksum">The entry's data checksum of the bytes that will be written (<see cref="HrlChecksum.Compute(ReadOnlySpan{byte})"/>).</param>
    /// <param name="time">The entry's time stamp.</param>
    /// <returns>The log position to pass to <see cref="WriteReserved"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">As for <see cref="Append(long, ReadOnlySpan{byte}, DateTimeOffset)"/>.</exception>
    /// <exception cref="InvalidOperationException">The writer is sealed or faulted.</exception>
    /// <exception cref="IOException">Writing buffered data or a full metadata block failed; the writer is faulted.</exception>
    internal long Reserve(long diskOffset, int length, uint dataChecksum, DateTimeOffset time)
    {
        CheckEntry(diskOffset, length);
        uint timeStamp = HrlTimestamp.FromDateTimeOffset(time);
        EnsureWritable();
        try
        {
            if (_entryCount == _capacity)
            {
                WriteMetadataBlock();
            }

            // Buffered data lies before the reserved range: out it goes, so the buffer again starts at the log's end.
            WritePendingData();
            long position = _position;
            var entry = new HrlMetadataEntry((ulong)diskOffset, 0, (uint)length, timeStamp, HrlFormat.MetaOperationWrite, dataChecksum, 0);
            entry.WriteWithChecksum(_metadata.AsSpan(HrlMetadataHeader.Size + (_entryCount * HrlMetadataEntry.Size), HrlMetadataEntry.Size));
            lock (_reserved)
            {
                _reserved.Add(position);
            }

            _position += length;
            _dataFilePosition = _position;
            _entryCount++;
            return position;
        }
        catch (Exception)
        {
            Fault();
            throw;
        }
    }

    /// <summary>
    /// Writes the data of an entry reserved with <see cref="Reserve(long, int, uint)"/> at its position. Thread-safe: any number run at
    /// once, concurrently with appends, commits and flushes. A failure faults the writer (the batch holding the entry is
    /// torn; later flushes throw) and is rethrown.
    /// </summary>
    /// <param name="position">The position <see cref="Reserve(long, int, uint)"/> returned.</param>
    /// <param name="data">The data, exactly the length reserved and the bytes checksummed.</param>
    /// <exception cref="IOException">The write failed.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed meanwhile.</exception>
    internal void WriteReserved(long position, ReadOnlySpan<byte> data)
    {
        bool written = false;
        try
        {
            RandomAccess.Write(_handle, data, position);
            written = true;
        }
        finally
        {
            EndReserved(position, written);
        }
    }

    /// <summary>Gives up a reservation whose data will not be written: the writer is faulted, as by a failed <see cref="WriteReserved"/>.</summary>
    internal void AbandonReserved(long position) => EndReserved(position, written: false);

    private void EndReserved(long position, bool written)
    {
        if (!written)
        {
            Fault();
        }

        lock (_reserved)
        {
            _reserved.Remove(position);
            if (_reservedWaiter)
            {
                _reservedWaiter = false;
                Monitor.PulseAll(_reserved);
            }
        }
    }

    /// <summary>Blocks until no reserved write below <paramref name="end"/> is still being written.</summary>
    private void WaitForReserved(long end)
    {
        lock (_reserved)
        {
            while (true)
            {
                bool below = false;
                foreach (long position in _reserved)
                {
                    if (position < end)
                    {
                        below = true;
                        break;
                    }
                }

                if (!below)
                {
                    return;
                }

                _reservedWaiter = true;
                Monitor.Wait(_reserved);
            }
        }
    }

    /// <summary>
    /// Writes the pending batch: its remaining data and its metadata block. After <see cref="Flush"/> the batch is
    /// durable and a recovery scan finds it. Does nothing when no entry is pending.
    /// </summary>
    /// <exception cref="InvalidOperationException">The writer is sealed or faulted.</exception>
    /// <exception cref="IOException">The write failed; the writer is faulted.</exception>
    public void Commit()
    {
        EnsureWritable();
        if (_entryCount > 0)
        {
            try
            {
                WriteMetadataBlock();
            }
            catch (Exception)
            {
                Fault();
                throw;
            }
        }
    }

    /// <summary>
    /// Makes every committed batch durable (fsync). Appended but uncommitted entries are not written by it. May be
    /// called while another thread appends or commits: it covers every batch whose <see cref="Commit"/> returned before
    /// it was called. A failed fsync faults the writer: what reached the disk is then unknown.
    /// </summary>
    /// <remarks>Waits first for the data of reserved entries (<see cref="Reserve(long, int, uint)"/>) in the committed batches to be written.</remarks>
    /// <exception cref="InvalidOperationException">The writer is faulted.</exception>
    /// <exception cref="IOException">The fsync, or the write of a reserved entry's data, failed; the writer is faulted.</exception>
    public void Flush()
    {
        State state = CurrentState;
        ObjectDisposedException.ThrowIf(state == State.Disposed, this);
        if (state == State.Faulted)
        {
            throw new InvalidOperationException($"{FilePath}: the log writer failed earlier and can no longer be used.");
        }

        // The data of reserved entries in the committed batches must be written before the fsync that makes them durable.
        WaitForReserved(CommittedLength);
        state = CurrentState;
        ObjectDisposedException.ThrowIf(state == State.Disposed, this);
        if (state == State.Faulted)
        {
            throw new IOException($"{FilePath}: a write of the log's data failed; the log ends at its last flushed batch.");
        }

        try
        {
            RandomAccess.FlushToDisk(_handle);
        }
        catch (Exception)
        {
            // An open log is given up; a sealed one stays sealed (its seal made it durable) and a disposed one disposed.
            Fault();
            throw;
        }
    }

    /// <summary>
    /// Closes the log cleanly: commits the pending batch (an empty log gets one metadata block with no entries), makes
    /// the blocks durable, then writes the header with <c>EOLLocation</c>, <c>CurrentSize</c>,
    /// <c>LastModifiedTimeStamp</c>, <c>TotalMetadataEntries</c> and its checksum, and makes that durable too. The log
    /// is then complete; further appends throw.
    /// </summary>
    /// <returns>The header as written.</returns>
    /// <exception cref="InvalidOperationException">The writer is sealed or faulted.</exception>
    public HrlFileHeader Seal()
    {
        EnsureWritable();
        try
        {
            if (_entryCount > 0 || _blockCount == 0)
            {
                WriteMetadataBlock();
            }

            WaitForReserved(long.MaxValue);
            if (CurrentState != State.Open)
            {
                throw new IOException($"{FilePath}: a write of the log's data failed; the log cannot be sealed.");
            }

            HrlFileHeader sealedHeader = WriteSealedHeader(
                _handle,
                _header,
                CommittedLength,
                _committedEntries,
                _timeProvider.GetUtcNow());
            if (Interlocked.CompareExchange(ref _state, (int)State.Sealed, (int)State.Open) != (int)State.Open)
            {
                // Faulted or disposed while the header was written: the seal is not known to be complete.
                throw new IOException($"{FilePath}: the log writer failed or was closed while the log was being sealed.");
            }

            return sealedHeader;
        }
        catch (Exception)
        {
            Fault();
            throw;
        }
    }

    /// <summary>
    /// Seals a log that was left open for writing (<c>EOLLocation</c> 0, after a crash): finds its valid prefix with
    /// <see cref="HrlReader.Recover"/>, cuts the torn tail off the file, gives a log without any complete batch one
    /// empty metadata block (as <see cref="Seal"/> does for an empty log), and writes the sealed header. The records
    /// kept are exactly those <see cref="HrlReader.ReadRecords(HrlRecoveryResult)"/> returns for the prefix. A log that
    /// is already sealed is left untouched. Idempotent: a crash during this call leaves a log it seals the same way.
    /// </summary>
    /// <param name="path">The log file.</param>
    /// <param name="timeProvider">The clock for <c>LastModifiedTimeStamp</c>.</param>
    /// <param name="recovered">What the recovery scan found before the tail was cut (its <c>TornBytes</c> are what was cut).</param>
    /// <param name="cancellationToken">Cancels the scan; the file is not modified before the scan completes.</param>
    /// <returns>The header of the sealed log.</returns>
    /// <exception cref="InvalidLogFormatException">The file's header is not a valid HRL header.</exception>
    /// <exception cref="ReplicationException">The file does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    public static HrlFileHeader SealRecovered(string path, TimeProvider timeProvider, out HrlRecoveryResult recovered, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(timeProvider);
        string full = Path.GetFullPath(path);
        HrlFileHeader header;
        using (HrlReader reader = HrlReader.Open(full))
        {
            recovered = reader.Recover(cancellationToken);
            header = reader.Header;
            if (reader.IsClosedCleanly)
            {
                return header;
            }
        }

        using SafeFileHandle handle = File.OpenHandle(full, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        long end = recovered.ValidLength;
        RandomAccess.SetLength(handle, end);
        if (recovered.BlockCount == 0)
        {
            // A sealed log has at least one metadata block for the traversal to start from.
            byte[] block = ArrayPool<byte>.Shared.Rent((int)header.MetadataSize);
            try
            {
                Span<byte> empty = block.AsSpan(0, (int)header.MetadataSize);
                empty.Clear();
                new HrlMetadataHeader(0, 0, 0).WriteWithChecksum(empty);
                RandomAccess.Write(handle, empty, HrlFormat.HeaderSize);
                end = HrlFormat.HeaderSize + empty.Length;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(block);
            }
        }

        return WriteSealedHeader(handle, header, end, recovered.RecordCount, timeProvider.GetUtcNow());
    }

    /// <summary>Cuts a preallocated file to the log's end, flushes the blocks, then writes and flushes the header that points at them.</summary>
    private static HrlFileHeader WriteSealedHeader(SafeFileHandle handle, HrlFileHeader header, long end, long entries, DateTimeOffset now)
    {
        if (RandomAccess.GetLength(handle) > end)
        {
            RandomAccess.SetLength(handle, end);
        }

        // The blocks must be on disk before a header that points at them.
        RandomAccess.FlushToDisk(handle);
        HrlFileHeader sealedHeader = header with
        {
            EolLocation = (ulong)end,
            CurrentSize = (ulong)end,
            LastModifiedTimeStamp = HrlTimestamp.FromDateTimeOffset(now),
            TotalMetadataEntries = (ulong)entries,
        };
        Span<byte> buffer = stackalloc byte[HrlFileHeader.Size];
        sealedHeader = sealedHeader.WriteWithChecksum(buffer);
        RandomAccess.Write(handle, buffer, 0);
        RandomAccess.FlushToDisk(handle);
        return sealedHeader;
    }

    /// <summary>
    /// Closes the file and returns the buffers. Entries not committed are dropped; a log not sealed stays open-for-writing
    /// on disk (<c>EOLLocation</c> 0) and is read with <see cref="HrlReader.Recover"/>.
    /// </summary>
    public void Dispose()
    {
        if ((State)Interlocked.Exchange(ref _state, (int)State.Disposed) == State.Disposed)
        {
            return;
        }

        _handle.Dispose();
        ArrayPool<byte>.Shared.Return(_data);
        ArrayPool<byte>.Shared.Return(_metadata);
        _data = [];
        _metadata = [];
    }

    private static void CheckEntry(long diskOffset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(diskOffset);
        if (diskOffset % HrlFormat.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(diskOffset), diskOffset, "The disk offset must be a multiple of 512.");
        }

        if (length <= 0 || length % HrlFormat.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException("data", length, "The data length must be a positive multiple of 512.");
        }

        if (diskOffset > long.MaxValue - length)
        {
            throw new ArgumentOutOfRangeException(nameof(diskOffset), diskOffset, "The write must end below 2^63.");
        }
    }

    /// <summary>Open becomes faulted; a writer already faulted, sealed or disposed keeps its state.</summary>
    private void Fault() => Interlocked.CompareExchange(ref _state, (int)State.Faulted, (int)State.Open);

    private void EnsureWritable()
    {
        State state = CurrentState;
        ObjectDisposedException.ThrowIf(state == State.Disposed, this);
        if (state != State.Open)
        {
            throw new InvalidOperationException(state == State.Sealed
                ? $"{FilePath}: the log is sealed."
                : $"{FilePath}: the log writer failed earlier and can no longer be used.");
        }
    }

    private void WriteData(ReadOnlySpan<byte> data)
    {
        if (data.Length <= _data.Length - _dataLength)
        {
            data.CopyTo(_data.AsSpan(_dataLength));
            _dataLength += data.Length;
        }
        else
        {
            WritePendingData();
            if (data.Length >= _data.Length)
            {
                RandomAccess.Write(_handle, data, _dataFilePosition);
                _dataFilePosition += data.Length;
            }
            else
            {
                data.CopyTo(_data);
                _dataLength = data.Length;
            }
        }

        _position += data.Length;
    }

    private void WritePendingData()
    {
        if (_dataLength > 0)
        {
            RandomAccess.Write(_handle, _data.AsSpan(0, _dataLength), _dataFilePosition);
            _dataFilePosition += _dataLength;
            _dataLength = 0;
        }
    }

    private void WriteMetadataBlock()
    {
        long blockPosition = _position;
        ulong previous = _previousMetadata < 0 ? 0 : (ulong)(blockPosition - _previousMetadata);
        new HrlMetadataHeader(previous, (uint)_entryCount, 0).WriteWithChecksum(_metadata);
        ReadOnlySpan<byte> block = _metadata.AsSpan(0, _metadataSize);
        if (_dataLength + _metadataSize <= _data.Length)
        {
            // One positional write for the batch's tail and its block.
            block.CopyTo(_data.AsSpan(_dataLength));
            RandomAccess.Write(_handle, _data.AsSpan(0, _dataLength + _metadataSize), _dataFilePosition);
            _dataLength = 0;
        }
        else
        {
            WritePendingData();
            RandomAccess.Write(_handle, block, blockPosition);
        }

        _previousMetadata = blockPosition;
        _position = blockPosition + _metadataSize;
        _dataFilePosition = _position;
        _committedEntries += _entryCount;
        _blockCount++;
        _metadata.AsSpan(0, HrlMetadataHeader.Size + (_entryCount * HrlMetadataEntry.Size)).Clear();
        _entryCount = 0;
    }

    private static void DeleteAbandoned(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The creation failure is what the caller needs; a header-less file is rejected by every reader anyway.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }
}
