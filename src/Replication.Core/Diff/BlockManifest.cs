using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;
using Replication.Core.Disks;

namespace Replication.Core.Diff;

/// <summary>
/// The block checksums of a disk, kept in a versioned, checksummed file: per fine block an XxHash128 of its bytes, and
/// per coarse block a zero flag and the XxHash128 of its run of fine hashes (a one-level Merkle tree, so every byte is
/// hashed once). The coarse table is held in memory (32 bytes per coarse block); fine hashes stay in the file and are
/// read, and checked, only for the coarse blocks a diff needs.
/// </summary>
/// <remarks>
/// <para>
/// A block that reads as zeros has hash 0 at both levels, whatever its size, so zero blocks compare equal without
/// being hashed; a non-zero block whose hash would be 0 is stored as 1, so 0 means zeros exactly. A coarse block is
/// zero exactly when all its fine hashes are 0.
/// </para>
/// <para>
/// Collisions: two coarse blocks are taken for equal when their hashes match, which for blocks with different fine
/// hashes happens only on a 128-bit collision (about 2^-128 per pair for data not crafted against XxHash); equal fine
/// hashes in turn differ in content only on a 128-bit collision of a fine block. Inside a differing coarse block a
/// changed fine block is missed only if its 128-bit hash collides (about 2^-128 per changed fine block). The hashes are
/// not cryptographic: they detect change, not an adversary.
/// </para>
/// <para>Instances are immutable and thread-safe; dispose to close the file.</para>
/// </remarks>
public sealed class BlockManifest : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly ManifestHeader _header;
    private readonly UInt128[] _hashes;
    private readonly ulong[] _fineChecksums;
    private readonly int _zeroBlocks;

    private BlockManifest(string filePath, SafeFileHandle file, ManifestHeader header, UInt128[] hashes, ulong[] fineChecksums)
    {
        FilePath = filePath;
        _file = file;
        _header = header;
        _hashes = hashes;
        _fineChecksums = fineChecksums;
        _zeroBlocks = hashes.AsSpan().Count(UInt128.Zero);
    }

    /// <summary>The full path of the manifest file.</summary>
    public string FilePath { get; }

    /// <summary>Virtual size of the disk it describes, in bytes.</summary>
    public long VirtualSize => _header.VirtualSize;

    /// <summary>Coarse block size in bytes.</summary>
    public int CoarseBlockSize => _header.CoarseBlockSize;

    /// <summary>Fine block size in bytes.</summary>
    public int FineBlockSize => _header.FineBlockSize;

    /// <summary>Number of coarse blocks (the last one may be shorter).</summary>
    public int CoarseBlockCount => _hashes.Length;

    /// <summary>Number of fine blocks (the last one may be shorter).</summary>
    public long FineBlockCount => _header.FineBlockCount;

    /// <summary>Fine blocks in a whole coarse block.</summary>
    public int FineBlocksPerCoarseBlock => CoarseBlockSize / FineBlockSize;

    /// <summary>Number of coarse blocks that read as zeros.</summary>
    public int ZeroBlockCount => _zeroBlocks;

    /// <summary>Size of the manifest file in bytes.</summary>
    public long FileLength => _header.FileLength;

    internal DiskStamp Stamp => _header.Stamp;

    /// <summary>The checksum of the block table: equal for manifests of equal content and geometry.</summary>
    internal UInt128 TableChecksum => _header.TableChecksum;

    /// <summary>
    /// Opens and fully validates a manifest: header (magic, version, checksum, block sizes, counts), exact file length,
    /// every block entry, the block table checksum and every run of fine hashes. Nothing is allocated from a count
    /// before the count is validated against the virtual size and the file's length.
    /// </summary>
    /// <exception cref="InvalidManifestException">The file is not a complete, intact manifest; names file, offset and field.</exception>
    /// <exception cref="ReplicationException">The file does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    public static BlockManifest Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        SafeFileHandle file = OpenHandle(full);
        try
        {
            ManifestHeader header = ReadHeader(file, full);
            if (header.IsPartial)
            {
                throw new InvalidManifestException(full, ManifestHeader.FlagsOffset, "manifest header.Flags", "a partial manifest (its build did not finish) cannot be used");
            }

            (UInt128[] hashes, ulong[] fineChecksums) = ReadTable(file, full, header);
            VerifyFineRuns(file, full, header, fineChecksums);
            return new BlockManifest(full, file, header, hashes, fineChecksums);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The hash of coarse block <paramref name="index"/> (the XxHash128 of its fine hashes); 0 when the block reads as zeros.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the manifest.</exception>
    public UInt128 GetBlockHash(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _hashes.Length);
        return _hashes[index];
    }

    /// <summary>True when coarse block <paramref name="index"/> reads as zeros.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the manifest.</exception>
    public bool IsZeroBlock(int index) => GetBlockHash(index) == UInt128.Zero;

    /// <summary>
    /// Reads the fine hashes of coarse block <paramref name="index"/> (XxHash128s; 0 for a fine block that reads as zeros) into
    /// <paramref name="destination"/>, after checking them against the block's entry, and returns how many there are
    /// (fewer than <see cref="FineBlocksPerCoarseBlock"/> only for a short last block).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the manifest.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="FineBlocksPerCoarseBlock"/>.</exception>
    /// <exception cref="InvalidManifestException">The file changed since it was opened and the run fails its checksum.</exception>
    public int ReadFineHashes(int index, Span<UInt128> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _hashes.Length);
        if (destination.Length < FineBlocksPerCoarseBlock)
        {
            throw new ArgumentException($"The destination holds {destination.Length} hashes; a block has {FineBlocksPerCoarseBlock}.", nameof(destination));
        }

        (long first, int count) = FineRun(_header, index);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(count * ManifestHeader.FineHashSize);
        try
        {
            Span<byte> run = buffer.AsSpan(0, count * ManifestHeader.FineHashSize);
            long offset = _header.FineTableOffset + (first * ManifestHeader.FineHashSize);
            ReadExactly(_file, FilePath, offset, run, "manifest fine hashes");
            if (XxHash3.HashToUInt64(run) != _fineChecksums[index])
            {
                throw new InvalidManifestException(FilePath, offset, $"manifest fine hashes of block {index}", "the run of fine hashes does not match the checksum in its block entry");
            }

            for (int i = 0; i < count; i++)
            {
                destination[i] = BinaryPrimitives.ReadUInt128LittleEndian(run[(i * ManifestHeader.FineHashSize)..]);
            }

            return count;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// True when this manifest has the disk's virtual size and its stamp (file lengths, last-write times and VHDX
    /// DataWriteGuids of the disk and its parents) equals the disk's now: evidence, not proof, that the disk has not
    /// changed since the manifest was made. False for a disk that has no file.
    /// </summary>
    public bool IsCurrentFor(IVirtualDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        DiskStamp stamp = DiskStamp.Of(disk);
        return disk.VirtualSize == VirtualSize && stamp.IsKnown && stamp == Stamp;
    }

    /// <summary>Throws unless this manifest describes a disk of <paramref name="virtualSize"/> bytes cut into the given block sizes.</summary>
    /// <exception cref="InvalidManifestException">The virtual size or a block size differs; names this manifest's field.</exception>
    public void EnsureGeometry(long virtualSize, int coarseBlockSize, int fineBlockSize)
    {
        if (virtualSize != VirtualSize)
        {
            throw new InvalidManifestException(FilePath, ManifestHeader.VirtualSizeOffset, "manifest header.VirtualSize", $"the manifest describes a disk of {VirtualSize} bytes, not {virtualSize}");
        }

        if (coarseBlockSize != CoarseBlockSize)
        {
            throw new InvalidManifestException(FilePath, ManifestHeader.CoarseBlockSizeOffset, "manifest header.CoarseBlockSize", $"the manifest has {CoarseBlockSize}-byte blocks, not {coarseBlockSize}");
        }

        if (fineBlockSize != FineBlockSize)
        {
            throw new InvalidManifestException(FilePath, ManifestHeader.FineBlockSizeOffset, "manifest header.FineBlockSize", $"the manifest has {FineBlockSize}-byte fine blocks, not {fineBlockSize}");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    /// <summary>The first fine block of coarse block <paramref name="index"/> and how many it has.</summary>
    internal static (long First, int Count) FineRun(in ManifestHeader header, long index)
    {
        int perCoarse = header.CoarseBlockSize / header.FineBlockSize;
        long first = index * perCoarse;
        return (first, (int)Math.Min(perCoarse, header.FineBlockCount - first));
    }

    internal static SafeFileHandle OpenHandle(string full)
    {
        try
        {
            return File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.RandomAccess);
        }
        catch (FileNotFoundException ex)
        {
            throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{full}: the manifest file does not exist.", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{full}: the manifest file's folder does not exist.", ex);
        }
    }

    /// <summary>Reads and validates the header and checks that the file has exactly the length it implies.</summary>
    internal static ManifestHeader ReadHeader(SafeFileHandle file, string path)
    {
        Span<byte> bytes = stackalloc byte[ManifestHeader.Size];
        int n = RandomAccess.Read(file, bytes, 0);
        while (n < bytes.Length)
        {
            int more = RandomAccess.Read(file, bytes[n..], n);
            if (more == 0)
            {
                break;
            }

            n += more;
        }

        ManifestHeader header = ManifestHeader.Read(bytes[..n], path);
        long length = RandomAccess.GetLength(file);
        if (length != header.FileLength)
        {
            throw new InvalidManifestException(
                path,
                Math.Min(length, header.FileLength),
                "manifest file length",
                $"{length} bytes, but {header.CoarseBlockCount} block entries and {header.FineBlockCount} fine hashes need exactly {header.FileLength} ({(length < header.FileLength ? "truncated" : "trailing bytes")})");
        }

        return header;
    }

    internal static void ReadExactly(SafeFileHandle file, string path, long offset, Span<byte> destination, string field)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(file, destination[done..], offset + done);
            if (n == 0)
            {
                throw new InvalidManifestException(path, offset + done, field, "the file ends early (truncated)");
            }

            done += n;
        }
    }

    private static (UInt128[] Hashes, ulong[] FineChecksums) ReadTable(SafeFileHandle file, string path, ManifestHeader header)
    {
        // The count was checked against the virtual size, the limit and the file's real length: safe to allocate.
        int count = checked((int)header.CoarseBlockCount);
        var hashes = new UInt128[count];
        var fineChecksums = new ulong[count];
        const int EntriesPerRead = 32768;
        // A table read at once is hashed at once (the same hash as appending it); a larger one streams through a hasher.
        XxHash128? checksum = count > EntriesPerRead ? new XxHash128() : null;
        UInt128 whole = XxHash128.HashToUInt128([]);
        // Sized to the table when it is smaller than one read: a small disk's table is a few KiB.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(EntriesPerRead, Math.Max(count, 1)) * ManifestBlockEntry.Size);
        try
        {
            for (int first = 0; first < count; first += EntriesPerRead)
            {
                int n = Math.Min(EntriesPerRead, count - first);
                long offset = ManifestHeader.TableOffset + ((long)first * ManifestBlockEntry.Size);
                Span<byte> bytes = buffer.AsSpan(0, n * ManifestBlockEntry.Size);
                ReadExactly(file, path, offset, bytes, "manifest block table");
                for (int i = 0; i < n; i++)
                {
                    long entryOffset = offset + ((long)i * ManifestBlockEntry.Size);
                    ManifestBlockEntry entry = ManifestBlockEntry.Read(bytes.Slice(i * ManifestBlockEntry.Size, ManifestBlockEntry.Size), first + i, path, entryOffset);
                    if (entry.IsUnknown)
                    {
                        throw new InvalidManifestException(path, entryOffset + ManifestBlockEntry.FlagsOffset, $"manifest block table[{first + i}].Flags", "an unknown block in a manifest marked complete");
                    }

                    hashes[first + i] = entry.Hash;
                    fineChecksums[first + i] = entry.FineChecksum;
                }

                if (checksum is null)
                {
                    whole = XxHash128.HashToUInt128(bytes);
                }
                else
                {
                    checksum.Append(bytes);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        UInt128 actual = checksum?.GetCurrentHashAsUInt128() ?? whole;
        if (actual != header.TableChecksum)
        {
            throw new InvalidManifestException(path, ManifestHeader.TableChecksumOffset, "manifest header.TableChecksum", "the block table does not match its checksum");
        }

        return (hashes, fineChecksums);
    }

    private static void VerifyFineRuns(SafeFileHandle file, string path, ManifestHeader header, ulong[] fineChecksums)
    {
        int runBytes = header.CoarseBlockSize / header.FineBlockSize * ManifestHeader.FineHashSize;
        int runsPerRead = Math.Clamp((1 << 20) / runBytes, 1, Math.Max(fineChecksums.Length, 1));
        byte[] buffer = ArrayPool<byte>.Shared.Rent(runsPerRead * runBytes);
        try
        {
            for (int first = 0; first < fineChecksums.Length; first += runsPerRead)
            {
                int runs = Math.Min(runsPerRead, fineChecksums.Length - first);
                long firstFine = FineRun(header, first).First;
                long endFine = Math.Min(header.FineBlockCount, (long)(first + runs) * (runBytes / ManifestHeader.FineHashSize));
                long offset = header.FineTableOffset + (firstFine * ManifestHeader.FineHashSize);
                Span<byte> bytes = buffer.AsSpan(0, (int)((endFine - firstFine) * ManifestHeader.FineHashSize));
                ReadExactly(file, path, offset, bytes, "manifest fine hashes");
                for (int r = 0; r < runs; r++)
                {
                    int start = r * runBytes;
                    Span<byte> run = bytes.Slice(start, Math.Min(runBytes, bytes.Length - start));
                    if (XxHash3.HashToUInt64(run) != fineChecksums[first + r])
                    {
                        throw new InvalidManifestException(path, offset + start, $"manifest fine hashes of block {first + r}", "the run of fine hashes does not match the checksum in its block entry");
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
