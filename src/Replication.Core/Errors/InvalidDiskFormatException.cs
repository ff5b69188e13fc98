using System.Globalization;

namespace Replication.Core;

/// <summary>
/// A disk image (or a structure inside it) is corrupt, truncated, hostile or of an unexpected format.
/// The message names the file, the byte offset in the file and the field that failed validation.
/// Never recoverable by retrying: the file must be repaired or replaced.
/// </summary>
public class InvalidDiskFormatException : ReplicationException
{
    /// <summary>Creates the exception for a field at an offset of a file.</summary>
    /// <param name="filePath">The file that holds the bad structure (may be null for in-memory images).</param>
    /// <param name="offset">Byte offset in the file of the structure or field that failed.</param>
    /// <param name="field">The structure and field name, for example <c>VHD footer.Checksum</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public InvalidDiskFormatException(string? filePath, long offset, string field, string detail, Exception? innerException = null)
        : base(ReplicationErrorCode.InvalidFormat, false, Format(filePath, offset, field, detail), innerException)
    {
        FilePath = filePath;
        Offset = offset;
        Field = field;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidDiskFormatException()
        : this(null, 0, "unknown", "invalid disk format")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidDiskFormatException(string message)
        : base(ReplicationErrorCode.InvalidFormat, false, message)
    {
        Field = "unknown";
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidDiskFormatException(string message, Exception innerException)
        : base(ReplicationErrorCode.InvalidFormat, false, message, innerException)
    {
        Field = "unknown";
    }

    /// <summary>The file that holds the bad structure, when known.</summary>
    public string? FilePath { get; }

    /// <summary>Byte offset in the file of the structure or field that failed validation.</summary>
    public long Offset { get; }

    /// <summary>The structure and field that failed validation.</summary>
    public string Field { get; }

    private static string Format(string? filePath, long offset, string field, string detail) =>
        string.Create(CultureInfo.InvariantCulture, $"{filePath ?? "<memory>"}: invalid {field} at offset {offset} (0x{offset:X}): {detail}");
}
