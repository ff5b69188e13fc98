using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Diff;

/// <summary>
/// Builds a manifest file: N workers (one per core by default) each take the next chunk of the disk, read its
/// allocated ranges with a pooled buffer, hash it and write its fine hashes in place; while one worker hashes, the
/// others read, so reads and hashing overlap. Blocks the format knows are zero are not read; blocks read as zeros are
/// found with a vectorised scan and not hashed. Block entries are kept in memory and written at the end; with
/// checkpointing on, a partial manifest is saved every so often so a killed build resumes where it was.
/// </summary>
internal sealed class ManifestBuildRun : IDisposable
{
    /// <summary>Bytes each worker reads and hashes at a time (or one coarse block, when that is larger).</summary>
    internal const int ChunkSize = 4 << 20;

    /// <summary>
    /// Bytes read and hashed at a time inside a chunk (or one fine block, when that is larger). Measured on a 2-core
    /// machine: from 64 KiB to 4 MiB the CPU time of a manifest of a file in page cache is the same (the copy out of the
    /// page cache costs the same wherever it lands); a file not in cache is read fastest with 1 MiB (512 MiB: 0.39 s,
    /// against 0.43 s with 4 MiB and 0.49 s with 256 KiB), and each worker holds 1 MiB instead of a whole chunk.
    /// </summary>
    internal const int WindowSize = 1 << 20;

    private const int Done = 1;
    private const long ProgressStep = 64L << 20;

    /// <summary>Disk bytes processed between two hints to start writing the manifest's fine hashes back (see <see cref="Writeback"/>).</summary>
    private const long WritebackStep = 64L << 20;

    private readonly IDiskSink _disk;
    private readonly ManifestHeader _geometry;
    private readonly SafeFileHandle _file;
    private readonly string _workPath;
    private readonly int _coarse;
    private readonly int _fine;
    private readonly int _chunkSize;
    private readonly int _window;
    private readonly long _chunkCount;
    private readonly UInt128[] _hashes;
    private readonly ulong[] _fineChecksums;
    private readonly int[] _state;
    private readonly int _count;
    private int _disposed;
    private readonly long _checkpointInterval;
    private readonly IProgress<ManifestProgress>? _progress;
    private readonly Action<long, long>? _onCheckpoint;
    private readonly Lock _saveLock = new();
    private long _nextChunk;
    private long _bytesRead;
    private long _bytesHashed;
    private long _bytesProcessed;
    private long _sinceCheckpoint;
    private long _nextProgress;
    private long _nextWriteback = WritebackStep;

    private ManifestBuildRun(
        IDiskSink disk,
        string workPath,
        ManifestOptions options,
        bool resume,
        long checkpointInterval,
        IProgress<ManifestProgress>? progress,
        Action<long, long>? onCheckpoint,
        ManifestSeed? seed)
    {
        _disk = disk;
        _workPath = workPath;
        _coarse = options.CoarseBlockSize;
        _fine = options.FineBlockSize;
        _geometry = new ManifestHeader(true, disk.VirtualSize, _coarse, _fine, DiskStamp.Of(disk), UInt128.Zero);
        if (_geometry.CoarseBlockCount > ManifestHeader.MaxCoarseBlockCount)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options),
                $"A disk of {disk.VirtualSize} bytes has {_geometry.CoarseBlockCount} blocks of {_coarse} bytes, more than {ManifestHeader.MaxCoarseBlockCount}; use a larger block size.");
        }

        _chunkSize = Math.Max(ChunkSize, _coarse);
        _chunkCount = ManifestHeader.CeilDiv(disk.VirtualSize, _chunkSize);
        _window = Math.Max(WindowSize, _fine);
        int count = (int)_geometry.CoarseBlockCount;
        // The tables live as long as the build: pooled, and given back by Dispose (the first `count` entries are used).
        _count = count;
        _hashes = ArrayPool<UInt128>.Shared.Rent(count);
        _fineChecksums = ArrayPool<ulong>.Shared.Rent(count);
        _state = ArrayPool<int>.Shared.Rent(count);
        Array.Clear(_hashes, 0, count);
        Array.Clear(_fineChecksums, 0, count);
        Array.Clear(_state, 0, count);
        _checkpointInterval = checkpointInterval;
        _progress = progress;
        _onCheckpoint = onCheckpoint;
        _file = (seed is { } from ? TrySeed(from) : null)
            ?? (resume && _geometry.Stamp.IsKnown ? TryResume() : null)
            ?? CreateWorkFile(workPath, _geometry.FileLength);
    }

    /// <summary>Refuses a disk of 0 bytes: a manifest describes at least one sector, and such a disk has nothing to compare.</summary>
    /// <exception cref="ArgumentException">The disk is empty.</exception>
    internal static void ThrowIfEmpty(IDiskSink disk, string parameterName)
    {
        if (disk.VirtualSize == 0)
        {
            throw new ArgumentException(
                $"{disk.Location}: the disk is empty (0 bytes): there is nothing to hash or compare (a block manifest describes at least one 512-byte sector).",
                parameterName);
        }
    }

    /// <summary>
    /// Builds the manifest of <paramref name="disk"/> in <paramref name="workPath"/>, then renames it to
    /// <paramref name="finalPath"/> (atomically replacing any file there) and opens it.
    /// </summary>
    /// <param name="disk">The disk to hash.</param>
    /// <param name="finalPath">Where the finished manifest goes.</param>
    /// <param name="workPath">Where it is built; may equal <paramref name="finalPath"/>.</param>
    /// <param name="options">Block sizes and parallelism.</param>
    /// <param name="resume">Continue a partial manifest of the same disk (same stamp and geometry) found at <paramref name="workPath"/>; keep the partial file when the build fails.</param>
    /// <param name="checkpointInterval">Save a partial manifest after this many bytes of the disk are processed; 0 for never.</param>
    /// <param name="progress">Progress, reported every 64 MiB and at the end.</param>
    /// <param name="onCheckpoint">Called after each durable partial save with (bytes read, bytes hashed) a resume will not redo (a lower bound).</param>
    /// <param name="cancellationToken">Stops the build; with <paramref name="resume"/> the work done so far is saved first.</param>
    /// <param name="seed">
    /// A complete manifest of this disk as it was earlier, and the coarse blocks written since: every other block's entry
    /// is taken from it (when it checks out) instead of being hashed. The caller proves the stale set is complete.
    /// </param>
    internal static async Task<ManifestBuildResult> BuildAsync(
        IDiskSink disk,
        string finalPath,
        string workPath,
        ManifestOptions options,
        bool resume,
        long checkpointInterval,
        IProgress<ManifestProgress>? progress,
        Action<long, long>? onCheckpoint,
        CancellationToken cancellationToken,
        ManifestSeed? seed = null)
    {
        var builder = new ManifestBuildRun(disk, workPath, options, resume, checkpointInterval, progress, onCheckpoint, seed);
        bool completed = false;
        try
        {
            await builder.RunAsync(options.EffectiveParallelism, cancellationToken).ConfigureAwait(false);
            builder.WriteTableAndHeader(partial: false, snapshot: null);
            RandomAccess.FlushToDisk(builder._file);
            builder._file.Dispose();
            if (!string.Equals(workPath, finalPath, StringComparison.Ordinal))
            {
                DurableFile.Replace(workPath, finalPath);
            }

            completed = true;
            return new ManifestBuildResult(BlockManifest.Open(finalPath), builder._bytesRead, builder._bytesHashed);
        }
        catch (OperationCanceledException) when (resume && !builder._file.IsClosed)
        {
            // A cancelled build keeps what it has done, so the next one resumes from here.
            builder.SavePartial();
            throw;
        }
        finally
        {
            builder.Dispose();
            if (!completed && !resume)
            {
                File.Delete(workPath);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _file.Dispose();
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            ArrayPool<int>.Shared.Return(_state);
            ArrayPool<ulong>.Shared.Return(_fineChecksums);
            ArrayPool<UInt128>.Shared.Return(_hashes);
        }
    }

    private async Task RunAsync(int parallelism, CancellationToken cancellationToken)
    {
        int workers = (int)Math.Min(parallelism, _chunkCount);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new Task[workers];
        for (int i = 0; i < workers; i++)
        {
            tasks[i] = WorkAsync(cts);
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception) when (tasks.Any(t => t.IsFaulted && t.Exception!.InnerException is not OperationCanceledException))
        {
            // Task.WhenAll surfaces the first exception; prefer a real failure over the cancellations it caused.
            throw tasks.First(t => t.IsFaulted && t.Exception!.InnerException is not OperationCanceledException).Exception!.InnerException!;
        }

        _progress?.Report(new ManifestProgress(_disk.VirtualSize, _disk.VirtualSize, _bytesRead, _bytesHashed));
    }

    private async Task WorkAsync(CancellationTokenSource cts)
    {
        // On to the thread pool at once (as Task.Run would, without its closure and wrapper tasks).
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        int blocksPerChunk = _chunkSize / _coarse;
        byte[] data = ArrayPool<byte>.Shared.Rent(_window);
        byte[] fineHashes = ArrayPool<byte>.Shared.Rent(_chunkSize / _fine * ManifestHeader.FineHashSize);
        bool[] hasData = ArrayPool<bool>.Shared.Rent(blocksPerChunk);
        var extents = new List<DiskExtent>();
        try
        {
            while (true)
            {
                long chunk = Interlocked.Increment(ref _nextChunk) - 1;
                if (chunk >= _chunkCount)
                {
                    return;
                }

                cts.Token.ThrowIfCancellationRequested();
                await ProcessChunkAsync(chunk, data, fineHashes, hasData, extents, cts.Token).ConfigureAwait(false);
            }
        }
        catch
        {
            await cts.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            ArrayPool<bool>.Shared.Return(hasData);
            ArrayPool<byte>.Shared.Return(fineHashes);
            ArrayPool<byte>.Shared.Return(data);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessChunkAsync(long chunk, byte[] data, byte[] fineHashes, bool[] hasData, List<DiskExtent> extents, CancellationToken cancellationToken)
    {
        long start = chunk * _chunkSize;
        int length = (int)Math.Min(_chunkSize, _disk.VirtualSize - start);
        int firstBlock = (int)(start / _coarse);
        int blocks = (int)ManifestHeader.CeilDiv(length, _coarse);
        long hashedHere = 0;
        for (int b = 0; b < blocks;)
        {
            if (Volatile.Read(ref _state[firstBlock + b]) == Done)
            {
                b++;
                continue;
            }

            int end = b + 1;
            while (end < blocks && Volatile.Read(ref _state[firstBlock + end]) != Done)
            {
                end++;
            }

            await HashBlocksAsync(firstBlock + b, end - b, data, fineHashes, hasData, extents, cancellationToken).ConfigureAwait(false);
            hashedHere += (long)(end - b) * _coarse;
            b = end;
        }

        long processed = Interlocked.Add(ref _bytesProcessed, length);
        if (_progress is not null && processed >= Volatile.Read(ref _nextProgress))
        {
            Volatile.Write(ref _nextProgress, processed + ProgressStep);
            _progress.Report(new ManifestProgress(processed, _disk.VirtualSize, Volatile.Read(ref _bytesRead), Volatile.Read(ref _bytesHashed)));
        }

        // The fine hashes written so far start on their way to the disk now, so the final flush waits only for the rest.
        if (processed >= Volatile.Read(ref _nextWriteback))
        {
            Volatile.Write(ref _nextWriteback, processed + WritebackStep);
            Writeback.Start(_file);
        }

        // Only blocks hashed here count towards the next checkpoint: blocks resumed or seeded cost nothing to redo.
        if (_checkpointInterval > 0 && hashedHere > 0 && Interlocked.Add(ref _sinceCheckpoint, hashedHere) >= _checkpointInterval && _saveLock.TryEnter())
        {
            try
            {
                Volatile.Write(ref _sinceCheckpoint, 0);
                SavePartial();
            }
            finally
            {
                _saveLock.Exit();
            }
        }
    }

    /// <summary>
    /// Reads and hashes <paramref name="count"/> consecutive coarse blocks, a window at a time (each window's fine hashes
    /// as soon as it is read), writes their fine hashes, then publishes their entries. Only blocks that hold allocated
    /// data are read, and only their gaps are zeroed.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HashBlocksAsync(int firstBlock, int count, byte[] data, byte[] fineHashes, bool[] hasData, List<DiskExtent> extents, CancellationToken cancellationToken)
    {
        long runStart = (long)firstBlock * _coarse;
        int runLength = (int)(Math.Min(_disk.VirtualSize, runStart + ((long)count * _coarse)) - runStart);
        // The worker's list is refilled for each run: a raw disk answers without allocating an enumerator.
        extents.Clear();
        if (_disk is VirtualDisk disk)
        {
            disk.AddAllocatedExtents(runStart, runLength, extents);
        }
        else
        {
            extents.AddRange(_disk.GetAllocatedExtents(runStart, runLength));
        }

        Array.Clear(hasData, 0, count);
        foreach (DiskExtent extent in extents)
        {
            int at = (int)(extent.Offset - runStart);
            hasData.AsSpan((at / _coarse)..(((at + (int)extent.Length - 1) / _coarse) + 1)).Fill(true);
        }

        long read = 0;
        int nextExtent = 0;
        for (int window = 0; window < runLength; window += _window)
        {
            int windowEnd = Math.Min(window + _window, runLength);
            // The window's blocks with data, in runs of consecutive blocks; a block wholly inside a hole is never touched.
            for (int from = window; from < windowEnd;)
            {
                if (!hasData[from / _coarse])
                {
                    from = Math.Min(windowEnd, ((from / _coarse) + 1) * _coarse);
                    continue;
                }

                int to = from;
                while (to < windowEnd && hasData[to / _coarse])
                {
                    to = Math.Min(windowEnd, ((to / _coarse) + 1) * _coarse);
                }

                // Extents are ascending and merged: skip those that end before this run; those reaching past it stay.
                while (nextExtent < extents.Count && extents[nextExtent].Offset + extents[nextExtent].Length - runStart <= from)
                {
                    nextExtent++;
                }

                int cursor = from;
                for (int e = nextExtent; e < extents.Count && extents[e].Offset - runStart < to; e++)
                {
                    int start = (int)Math.Max(extents[e].Offset - runStart, from);
                    int end = (int)Math.Min(extents[e].Offset + extents[e].Length - runStart, to);
                    data.AsSpan(cursor - window, start - cursor).Clear();
                    await _disk.ReadAsync(runStart + start, data.AsMemory(start - window, end - start), cancellationToken).ConfigureAwait(false);
                    read += end - start;
                    cursor = end;
                }

                data.AsSpan(cursor - window, to - cursor).Clear();
                for (int at = from; at < to; at += _fine)
                {
                    UInt128 fine = HashOrZero(data.AsSpan(at - window, Math.Min(_fine, to - at)));
                    BinaryPrimitives.WriteUInt128LittleEndian(fineHashes.AsSpan(at / _fine * ManifestHeader.FineHashSize), fine);
                }

                from = to;
            }
        }

        long hashed = FinishBlocks(runLength, fineHashes, hasData, firstBlock, count);
        long firstFine = (long)firstBlock * (_coarse / _fine);
        int fineBytes = (int)((ManifestHeader.CeilDiv(runStart + runLength, _fine) - firstFine) * ManifestHeader.FineHashSize);
        RandomAccess.Write(_file, fineHashes.AsSpan(0, fineBytes), _geometry.FineTableOffset + (firstFine * ManifestHeader.FineHashSize));
        for (int i = 0; i < count; i++)
        {
            Volatile.Write(ref _state[firstBlock + i], Done);
        }

        // Counted after the blocks are published, so a checkpoint that reads these counters first covers at least them.
        Interlocked.Add(ref _bytesRead, read);
        Interlocked.Add(ref _bytesHashed, hashed);
    }

    /// <summary>
    /// The hash of a coarse block as the builder computes it, from its bytes: the XxHash128 of its fine hashes, 0 for
    /// zeros (see <see cref="HashBlock"/>).
    /// </summary>
    internal static UInt128 HashCoarseBlock(ReadOnlySpan<byte> block, int fineBlockSize)
    {
        byte[] fineRun = ArrayPool<byte>.Shared.Rent((int)ManifestHeader.CeilDiv(block.Length, fineBlockSize) * ManifestHeader.FineHashSize);
        try
        {
            return HashBlock(block, fineBlockSize, fineRun);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(fineRun);
        }
    }

    /// <summary>
    /// Hashes one coarse block, each byte once: writes the XxHash128 of each fine block (0 when it reads as zeros, 1 when
    /// the real hash is 0) to <paramref name="fineRun"/> as 16 little-endian bytes, and returns the XxHash128 of that
    /// run (0 when every fine hash is 0, 1 when the real hash is 0).
    /// </summary>
    internal static UInt128 HashBlock(ReadOnlySpan<byte> block, int fineBlockSize, Span<byte> fineRun)
    {
        int fines = (int)ManifestHeader.CeilDiv(block.Length, fineBlockSize);
        fineRun = fineRun[..(fines * ManifestHeader.FineHashSize)];
        for (int f = 0; f < fines; f++)
        {
            int at = f * fineBlockSize;
            BinaryPrimitives.WriteUInt128LittleEndian(fineRun[(f * ManifestHeader.FineHashSize)..], HashOrZero(block.Slice(at, Math.Min(fineBlockSize, block.Length - at))));
        }

        return HashOrZero(fineRun);
    }

    /// <summary>
    /// The hash of a fine block (its bytes), or of a coarse block (its run of fine hashes): 0 when every byte is 0 (a fine
    /// block that reads as zeros; a coarse block whose fine hashes are all 0, which reads as zeros), the XxHash128 of the
    /// bytes otherwise (1 when that is 0).
    /// </summary>
    private static UInt128 HashOrZero(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.ContainsAnyExcept((byte)0))
        {
            return UInt128.Zero;
        }

        UInt128 hash = XxHash128.HashToUInt128(bytes);
        return hash == UInt128.Zero ? UInt128.One : hash;
    }

    /// <summary>
    /// Sets the entries of a run's blocks from their fine hashes (cleared for blocks without data, which were not read)
    /// and returns the bytes of the blocks that hold data.
    /// </summary>
    private long FinishBlocks(int runLength, byte[] fineHashes, bool[] hasData, int firstBlock, int count)
    {
        int perCoarse = _coarse / _fine;
        long hashed = 0;
        for (int i = 0; i < count; i++)
        {
            int blockLength = Math.Min(_coarse, runLength - (i * _coarse));
            int fines = (int)ManifestHeader.CeilDiv(blockLength, _fine);
            Span<byte> fineRun = fineHashes.AsSpan(i * perCoarse * ManifestHeader.FineHashSize, fines * ManifestHeader.FineHashSize);
            UInt128 hash = UInt128.Zero;
            if (!hasData[i])
            {
                fineRun.Clear();
            }
            else
            {
                hash = HashOrZero(fineRun);
                hashed += hash == UInt128.Zero ? 0 : blockLength;
            }

            _hashes[firstBlock + i] = hash;
            _fineChecksums[firstBlock + i] = XxHash3.HashToUInt64(fineRun);
        }

        return hashed;
    }

    /// <summary>
    /// Saves a partial manifest: fine hashes written so far are flushed first, then the entries of the blocks that were
    /// complete before the flush, then the header. Each entry checks itself, so a save cut short by a crash loses at
    /// most the entries it did not reach.
    /// </summary>
    private void SavePartial()
    {
        long read = Volatile.Read(ref _bytesRead);
        long hashed = Volatile.Read(ref _bytesHashed);
        bool[] snapshot = new bool[_count];
        for (int i = 0; i < snapshot.Length; i++)
        {
            snapshot[i] = Volatile.Read(ref _state[i]) == Done;
        }

        RandomAccess.FlushToDisk(_file);
        WriteTableAndHeader(partial: true, snapshot);
        RandomAccess.FlushToDisk(_file);
        _onCheckpoint?.Invoke(read, hashed);
    }

    private void WriteTableAndHeader(bool partial, bool[]? snapshot)
    {
        const int EntriesPerWrite = 32768;
        // A table written at once is hashed at once (the same hash as appending it); a larger one streams through a hasher.
        XxHash128? checksum = _count > EntriesPerWrite ? new XxHash128() : null;
        UInt128 whole = XxHash128.HashToUInt128([]);
        // Sized to the table when it is smaller than one write (and never smaller than the header, written through it last).
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Min(EntriesPerWrite, _count) * ManifestBlockEntry.Size, ManifestHeader.Size));
        try
        {
            for (int first = 0; first < _count; first += EntriesPerWrite)
            {
                int n = Math.Min(EntriesPerWrite, _count - first);
                Span<byte> bytes = buffer.AsSpan(0, n * ManifestBlockEntry.Size);
                for (int i = 0; i < n; i++)
                {
                    int index = first + i;
                    ManifestBlockEntry entry = snapshot is null || snapshot[index]
                        ? new ManifestBlockEntry(_hashes[index], _fineChecksums[index], _hashes[index] == UInt128.Zero ? ManifestBlockEntry.ZeroFlag : 0)
                        : ManifestBlockEntry.Unknown;
                    entry.WriteTo(bytes[(i * ManifestBlockEntry.Size)..], index);
                }

                if (checksum is null)
                {
                    whole = XxHash128.HashToUInt128(bytes);
                }
                else
                {
                    checksum.Append(bytes);
                }

                RandomAccess.Write(_file, bytes, ManifestHeader.TableOffset + ((long)first * ManifestBlockEntry.Size));
            }

            var header = new ManifestHeader(partial, _geometry.VirtualSize, _coarse, _fine, _geometry.Stamp, checksum?.GetCurrentHashAsUInt128() ?? whole);
            header.WriteTo(buffer);
            RandomAccess.Write(_file, buffer.AsSpan(0, ManifestHeader.Size), 0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static SafeFileHandle CreateWorkFile(string path, long length)
    {
        SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            // Sized up front (sparse): fine hashes are written in place, in whatever order workers finish.
            RandomAccess.SetLength(file, length);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the partial manifest at the work path when it belongs to this disk as it is now (same stamp and geometry)
    /// and marks every block whose entry and fine hashes check out as done; anything else is hashed again.
    /// </summary>
    private SafeFileHandle? TryResume() =>
        File.Exists(_workPath)
            ? TryOpenWork(header => header.Stamp == _geometry.Stamp, stale: null)
            : null;

    /// <summary>
    /// Copies the seed manifest to the work path and marks every block the seed does not list as stale, and whose entry and
    /// fine hashes check out, as done; null (a full build) when the seed is not a complete manifest of this geometry.
    /// </summary>
    private SafeFileHandle? TrySeed(ManifestSeed seed)
    {
        if (seed.Stale.Length != _count || !File.Exists(seed.Path))
        {
            return null;
        }

        File.Copy(seed.Path, _workPath, overwrite: true);
        SafeFileHandle? file = TryOpenWork(header => !header.IsPartial, seed.Stale);
        seed.Used = file is not null;
        return file;
    }

    /// <summary>
    /// Opens the manifest at the work path when its header reads, has this disk's geometry and passes <paramref name="accept"/>,
    /// and marks its checked blocks (those not <paramref name="stale"/>) as done; null otherwise.
    /// </summary>
    private SafeFileHandle? TryOpenWork(Func<ManifestHeader, bool> accept, bool[]? stale)
    {
        SafeFileHandle file = File.OpenHandle(_workPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            ManifestHeader header;
            try
            {
                header = BlockManifest.ReadHeader(file, _workPath);
            }
            catch (InvalidManifestException)
            {
                file.Dispose();
                return null;
            }

            if (!accept(header) || header.VirtualSize != _geometry.VirtualSize || header.CoarseBlockSize != _coarse || header.FineBlockSize != _fine)
            {
                file.Dispose();
                return null;
            }

            LoadDoneEntries(file, header, stale);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private void LoadDoneEntries(SafeFileHandle file, ManifestHeader header, bool[]? stale)
    {
        byte[] entry = new byte[ManifestBlockEntry.Size];
        byte[] run = ArrayPool<byte>.Shared.Rent(_coarse / _fine * ManifestHeader.FineHashSize);
        try
        {
            for (int i = 0; i < _count; i++)
            {
                if (stale is not null && stale[i])
                {
                    continue;
                }

                long offset = ManifestHeader.TableOffset + ((long)i * ManifestBlockEntry.Size);
                if (RandomAccess.Read(file, entry, offset) != entry.Length
                    || !ManifestBlockEntry.TryRead(entry, i, out ManifestBlockEntry parsed) || parsed.IsUnknown)
                {
                    continue;
                }

                (long first, int count) = BlockManifest.FineRun(header, i);
                Span<byte> fines = run.AsSpan(0, count * ManifestHeader.FineHashSize);
                if (RandomAccess.Read(file, fines, header.FineTableOffset + (first * ManifestHeader.FineHashSize)) != fines.Length
                    || XxHash3.HashToUInt64(fines) != parsed.FineChecksum)
                {
                    continue;
                }

                _hashes[i] = parsed.Hash;
                _fineChecksums[i] = parsed.FineChecksum;
                _state[i] = Done;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(run);
        }
    }
}

/// <summary>A complete manifest of a disk as it was, and the coarse blocks written since (see <see cref="ManifestBuildRun.BuildAsync"/>).</summary>
internal sealed class ManifestSeed(string path, bool[] stale)
{
    /// <summary>The earlier manifest's file.</summary>
    public string Path { get; } = path;

    /// <summary>One flag per coarse block: set when the block may have been written since.</summary>
    public bool[] Stale { get; } = stale;

    /// <summary>Set when the build took its entries from the seed (false: the seed did not fit and everything was hashed).</summary>
    public bool Used { get; set; }
}
