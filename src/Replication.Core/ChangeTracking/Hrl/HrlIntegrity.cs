using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;
using Replication.Core.IO;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// Strong integrity for sealed logs, beside the format: an XxHash128 of every byte of the log, kept in a
/// <see cref="HrlSidecar"/> file <c>&lt;log&gt;.xxh128</c> and checked before a shipped log is applied. The HRL
/// checksums (byte sums) miss reordered bytes and a field changed together with its checksum; this does not.
/// </summary>
public static class HrlIntegrity
{
    /// <summary>Extension appended to the log's file name to name its sidecar.</summary>
    public const string SidecarExtension = ".xxh128";

    private const int ChunkSize = 1 << 20;
    private const string LogStructureName = "HRL log";

    /// <summary>The sidecar path of a log: the log's path plus <see cref="SidecarExtension"/>.</summary>
    public static string GetSidecarPath(string logPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(logPath);
        return logPath + SidecarExtension;
    }

    /// <summary>XxHash128 (seed 0) of every byte of a file, read with one pooled buffer.</summary>
    /// <exception cref="ReplicationException">The file does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    public static UInt128 ComputeHash(string path, CancellationToken cancellationToken = default)
    {
        using SafeFileHandle handle = OpenRead(path);
        return Hash(handle, RandomAccess.GetLength(handle), cancellationToken);
    }

    /// <summary>
    /// Hashes a sealed log and writes its sidecar durably (temporary file, fsync, rename, directory fsync), replacing
    /// any previous sidecar. Idempotent: writing it again for the same log writes the same bytes.
    /// </summary>
    /// <returns>What was written.</returns>
    /// <exception cref="InvalidLogFormatException">The file's header is invalid, or the log is not sealed.</exception>
    public static HrlSidecar WriteSidecar(string logPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(logPath);
        string full = Path.GetFullPath(logPath);
        HrlSidecar sidecar;
        using (SafeFileHandle handle = OpenRead(full))
        {
            long length = RandomAccess.GetLength(handle);
            HrlFileHeader header = ReadSealedHeader(handle, full, length);
            sidecar = new HrlSidecar(length, header.UniqueId, Hash(handle, length, cancellationToken));
        }

        DurableFile.WriteAllBytes(GetSidecarPath(full), sidecar.Encode());
        return sidecar;
    }

    /// <summary>Reads and validates the sidecar of a log.</summary>
    /// <exception cref="ReplicationException">The sidecar does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    /// <exception cref="InvalidRecordException">The sidecar is corrupt.</exception>
    public static HrlSidecar ReadSidecar(string logPath)
    {
        string sidecarPath = Path.GetFullPath(GetSidecarPath(logPath));
        byte[] bytes = HrlSidecar.Format.ReadFile(sidecarPath)
            ?? throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{sidecarPath}: the file does not exist.");
        return HrlSidecar.Read(bytes, sidecarPath);
    }

    /// <summary>
    /// Verifies a log against its sidecar: the sidecar itself, then the log's length, its <c>UniqueId</c>, and the
    /// XxHash128 of all its bytes.
    /// </summary>
    /// <returns>The verified sidecar.</returns>
    /// <exception cref="ReplicationException">The log or its sidecar does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    /// <exception cref="InvalidRecordException">The sidecar is corrupt.</exception>
    /// <exception cref="InvalidLogFormatException">The log differs from what its sidecar describes.</exception>
    public static HrlSidecar VerifySidecar(string logPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(logPath);
        string full = Path.GetFullPath(logPath);
        return VerifySidecar(full, ReadSidecar(full), cancellationToken);
    }

    /// <summary><see cref="VerifySidecar(string, CancellationToken)"/> against a sidecar the caller has already read.</summary>
    internal static HrlSidecar VerifySidecar(string full, HrlSidecar sidecar, CancellationToken cancellationToken)
    {
        using SafeFileHandle handle = OpenRead(full);
        long length = RandomAccess.GetLength(handle);
        CheckLength(full, sidecar, length);
        Span<byte> id = stackalloc byte[16];
        Guid? uniqueId = RandomAccess.Read(handle, id, HrlFileHeader.UniqueIdOffset) == id.Length ? new Guid(id) : null;
        CheckContent(full, sidecar, uniqueId, Hash(handle, length, cancellationToken));
        return sidecar;
    }

    /// <summary>The first check of <see cref="VerifySidecar(string, CancellationToken)"/>, made before any byte of the log is read: its length.</summary>
    /// <exception cref="InvalidLogFormatException">The length differs from the sidecar's.</exception>
    internal static void CheckLength(string full, HrlSidecar sidecar, long length)
    {
        if (length != sidecar.LogLength)
        {
            throw new InvalidLogFormatException(
                full,
                Math.Min(length, sidecar.LogLength),
                LogStructureName,
                "length",
                string.Create(CultureInfo.InvariantCulture, $"the log is {length} bytes but its sidecar records {sidecar.LogLength}"));
        }
    }

    /// <summary>
    /// The other checks of <see cref="VerifySidecar(string, CancellationToken)"/>, on what was read of the log: its <c>UniqueId</c> (null when the
    /// file is too short to hold one) and the XxHash128 of all its bytes (<see cref="Digest"/>).
    /// </summary>
    /// <exception cref="InvalidLogFormatException">Either differs from the sidecar's.</exception>
    internal static void CheckContent(string full, HrlSidecar sidecar, Guid? uniqueId, UInt128 hash)
    {
        if (uniqueId is { } id && id != sidecar.LogUniqueId)
        {
            throw new InvalidLogFormatException(
                full,
                HrlFileHeader.UniqueIdOffset,
                LogStructureName,
                "UniqueId",
                string.Create(CultureInfo.InvariantCulture, $"the log is {id} but the sidecar was written for {sidecar.LogUniqueId}"));
        }

        if (hash != sidecar.Hash)
        {
            throw new InvalidLogFormatException(
                full,
                0,
                LogStructureName,
                "XxHash128",
                string.Create(CultureInfo.InvariantCulture, $"the log's XxHash128 is {hash:x32} but its sidecar records {sidecar.Hash:x32}: the log changed after it was sealed"));
        }
    }

    /// <summary>The value a sidecar records for the bytes appended to <paramref name="hasher"/> (XxHash128, seed 0).</summary>
    internal static UInt128 Digest(XxHash128 hasher)
    {
        Span<byte> digest = stackalloc byte[16];
        hasher.GetCurrentHash(digest);
        return BinaryPrimitives.ReadUInt128BigEndian(digest);
    }

    /// <summary>
    /// Verifies a log against its sidecar, as <see cref="VerifySidecar(string, CancellationToken)"/> does, when the sidecar exists: the check that
    /// the log applier (<c>Transfer.LogApplier</c>) makes of a log it may apply without one, and <c>repl hrl dump</c> of every log.
    /// </summary>
    /// <returns>True when the sidecar exists and the log matches it; false when the log has no sidecar.</returns>
    /// <exception cref="ReplicationException">The log does not exist (<see cref="ReplicationErrorCode.NotFound"/>).</exception>
    /// <exception cref="InvalidRecordException">The sidecar is corrupt.</exception>
    /// <exception cref="InvalidLogFormatException">The log differs from what its sidecar describes.</exception>
    public static bool VerifySidecarIfPresent(string logPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(logPath);
        if (!File.Exists(GetSidecarPath(Path.GetFullPath(logPath))))
        {
            return false;
        }

        VerifySidecar(logPath, cancellationToken);
        return true;
    }

    private static HrlFileHeader ReadSealedHeader(SafeFileHandle handle, string path, long length)
    {
        Span<byte> bytes = stackalloc byte[HrlFileHeader.Size];
        if (length < HrlFileHeader.Size || RandomAccess.Read(handle, bytes, 0) != bytes.Length)
        {
            throw new InvalidLogFormatException(path, length, HrlFileHeader.StructureName, "length", "the file is shorter than the log header");
        }

        HrlFileHeader header = HrlFileHeader.Read(bytes, path);
        if (!header.IsClosedCleanly || header.EolLocation > (ulong)length)
        {
            throw new InvalidLogFormatException(
                path,
                HrlFileHeader.EolLocationOffset,
                HrlFileHeader.StructureName,
                "EOLLocation",
                "only a sealed, complete log gets an integrity sidecar");
        }

        return header;
    }

    private static UInt128 Hash(SafeFileHandle handle, long length, CancellationToken cancellationToken)
    {
        var hasher = new XxHash128();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            for (long done = 0; done < length;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(ChunkSize, length - done)), done);
                if (n == 0)
                {
                    throw new InvalidLogFormatException(null, done, LogStructureName, "length", "the file was cut short while it was hashed");
                }

                hasher.Append(buffer.AsSpan(0, n));
                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Digest(hasher);
    }

    /// <summary>Opens a file to read, shared with other readers; a missing file or folder is <see cref="ReplicationErrorCode.NotFound"/>, named as <paramref name="what"/>.</summary>
    internal static SafeFileHandle OpenRead(string path, FileOptions options = FileOptions.SequentialScan, string what = "the file")
    {
        string full = Path.GetFullPath(path);
        try
        {
            return File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.Read, options);
        }
        catch (FileNotFoundException ex)
        {
            throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{full}: {what} does not exist.", ex);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new ReplicationException(ReplicationErrorCode.NotFound, false, $"{full}: {what}'s folder does not exist.", ex);
        }
    }
}
