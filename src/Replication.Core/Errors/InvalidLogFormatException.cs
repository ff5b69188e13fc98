using System.Globalization;

namespace Replication.Core;

/// <summary>
/// A change log (an HRL file or the integrity sidecar beside it), or the change tracking state kept beside a chain of
/// logs, is corrupt, truncated, torn or not of the expected format. The message names the file, the byte offset in the file, the structure and the field that failed
/// validation. Never recoverable by retrying: the log must be recovered, replaced or the disk resynchronised.
/// </summary>
public class InvalidLogFormatException : ReplicationException
{
    /// <summary>Creates the exception for a field of a structure at an offset of a file.</summary>
    /// <param name="filePath">The file that holds the bad structure (may be null for in-memory buffers).</param>
    /// <param name="offset">Byte offset in the file of the field (or structure) that failed.</param>
    /// <param name="structure">The structure, for example <c>HRL metadata entry</c>.</param>
    /// <param name="field">The field of that structure, for example <c>DataLength</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public InvalidLogFormatException(string? filePath, long offset, string structure, string field, string detail, Exception? innerException = null)
        : base(ReplicationErrorCode.InvalidFormat, false, Format(filePath, offset, structure, field, detail), innerException)
    {
        FilePath = filePath;
        Offset = offset;
        Structure = structure;
        Field = field;
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public InvalidLogFormatException()
        : this(null, 0, "log", "unknown", "invalid log format")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidLogFormatException(string message)
        : base(ReplicationErrorCode.InvalidFormat, false, message)
    {
        Structure = "log";
        Field = "unknown";
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidLogFormatException(string message, Exception innerException)
        : base(ReplicationErrorCode.InvalidFormat, false, message, innerException)
    {
        Structure = "log";
        Field = "unknown";
    }

    /// <summary>The file that holds the bad structure, when known.</summary>
    public string? FilePath { get; }

    /// <summary>Byte offset in the file of the field (or structure) that failed validation.</summary>
    public long Offset { get; }

    /// <summary>The structure that failed validation.</summary>
    public string Structure { get; }

    /// <summary>The field of <see cref="Structure"/> that failed validation.</summary>
    public string Field { get; }

    private static string Format(string? filePath, long offset, string structure, string field, string detail) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{filePath ?? "<memory>"}: invalid {structure} {field} at offset {offset} (0x{offset:X}): {detail}");
}
