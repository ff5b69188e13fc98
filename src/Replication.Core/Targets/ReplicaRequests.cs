using System.Buffers;
using System.Globalization;
using System.IO.Hashing;

namespace Replication.Core.Targets;

/// <summary>Argument checks and helpers shared by every target.</summary>
internal static class ReplicaRequests
{
    /// <summary>The sector size every replica write is aligned to.</summary>
    public const int SectorSize = 512;

    /// <summary>Longest log or point label accepted.</summary>
    public const int MaxNameLength = 128;

    /// <summary>Throws unless [offset, offset + length) is sector-aligned and inside a replica of <paramref name="size"/> bytes.</summary>
    public static void CheckRange(long offset, long length, long size, string location)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (offset % SectorSize != 0 || length % SectorSize != 0)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"{location}: range [{offset}, {offset + length}) is not aligned to {SectorSize}-byte sectors."),
                nameof(offset));
        }

        CheckInside(offset, length, size, location);
    }

    /// <summary>Throws unless [offset, offset + length) lies inside a replica of <paramref name="size"/> bytes.</summary>
    public static void CheckInside(long offset, long length, long size, string location)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (offset > size || length > size - offset)
        {
            throw new ArgumentOutOfRangeException(
                nameof(offset),
                string.Create(CultureInfo.InvariantCulture, $"{location}: range [{offset}, {offset + length}) is outside the replica of {size} bytes."));
        }
    }

    /// <summary>Throws unless <paramref name="size"/> is a positive multiple of 512.</summary>
    public static void CheckSize(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if (size % SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"A replica's size must be a multiple of {SectorSize} bytes.");
        }
    }

    /// <summary>Longest recovery point label accepted.</summary>
    public const int MaxLabelLength = 256;

    private static readonly SearchValues<char> NameCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    /// <summary>Throws unless the name is 1 to 128 characters of [A-Za-z0-9._-] not starting with a dot.</summary>
    public static void CheckName(string name, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > MaxNameLength || name[0] == '.' || name.AsSpan().ContainsAnyExcept(NameCharacters))
        {
            throw new ArgumentException($"'{name}' is not a valid {what} name: use 1 to {MaxNameLength} of A-Z, a-z, 0-9, '.', '_', '-', not starting with '.'.", nameof(name));
        }
    }

    /// <summary>Throws unless a recovery point label is null or at most <see cref="MaxLabelLength"/> characters.</summary>
    public static void CheckLabel(string? label)
    {
        if (label is { Length: > MaxLabelLength })
        {
            throw new ArgumentException($"A recovery point label has at most {MaxLabelLength} characters.", nameof(label));
        }
    }

    /// <summary>Lower-case hex of a 128-bit hash, as stored in sidecars and metadata.</summary>
    public static string FormatHash(UInt128 hash) => hash.ToString("x32", CultureInfo.InvariantCulture);

    /// <summary>Parses <see cref="FormatHash"/>'s output.</summary>
    public static bool TryParseHash(string? text, out UInt128 hash) =>
        UInt128.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out hash) && text!.Length == 32;

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> with a pooled buffer and returns the bytes' XxHash128 and length.</summary>
    public static async ValueTask<(UInt128 Hash, long Length)> CopyAndHashAsync(Stream source, Stream? destination, CancellationToken cancellationToken)
    {
        var hasher = new XxHash128();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        long length = 0;
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.Append(buffer.AsSpan(0, n));
                if (destination is not null)
                {
                    await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }

                length += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (hasher.GetCurrentHashAsUInt128(), length);
    }

    /// <summary>The exception for bytes that do not match their hash.</summary>
    public static ReplicaTargetException IntegrityFailure(string what, UInt128 expected, UInt128 actual) => new(
        ReplicationErrorCode.IntegrityCheckFailed,
        false,
        $"{what}: the bytes hash to XxHash128 {FormatHash(actual)}, not the expected {FormatHash(expected)}.");

    /// <summary>
    /// A log put again under a name already staged: the staged log when <paramref name="content"/> is the same bytes
    /// (hashed unless <paramref name="expectedHash"/> already says so), else a conflict reported at <paramref name="where"/>.
    /// </summary>
    public static async ValueTask<StagedLog> SameAsStagedAsync(
        string location, string where, string name, Stream content, UInt128? expectedHash, (UInt128 Hash, long Length) existing, CancellationToken cancellationToken)
    {
        (UInt128 hash, long length) = expectedHash is { } h && h == existing.Hash
            ? existing
            : await CopyAndHashAsync(content, null, cancellationToken).ConfigureAwait(false);
        if (expectedHash is { } e && e != hash)
        {
            throw IntegrityFailure($"{location}: log '{name}'", e, hash);
        }

        return hash == existing.Hash && length == existing.Length
            ? new StagedLog(name, length, hash)
            : throw new ReplicaTargetException(ReplicationErrorCode.Conflict, false, $"{where}: a log named '{name}' with other content is already staged.");
    }
}
