namespace Replication.Core;

/// <summary>
/// A change log (an HRL file or the integrity sidecar beside it), or the change tracking state kept beside a chain of
/// logs, is corrupt, truncated, torn or not of the expected format. The message names the file, the byte offset in the
/// file, the structure and the field that failed validation. Never recoverable by retrying: the log must be
/// recovered, replaced or the disk resynchronised.
/// </summary>
public class InvalidLogFormatException : InvalidFileFormatException
{
    /// <summary>Creates the exception for a field of a structure at an offset of a file.</summary>
    /// <param name="filePath">The file that holds the bad structure (may be null for in-memory buffers).</param>
    /// <param name="offset">Byte offset in the file of the field (or structure) that failed.</param>
    /// <param name="structure">The structure, for example <c>HRL metadata entry</c>.</param>
    /// <param name="field">The field of that structure, for example <c>DataLength</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public InvalidLogFormatException(string? filePath, long offset, string structure, string field, string detail, Exception? innerException = null)
        : base(filePath, offset, field, structure + " " + field, detail, innerException)
    {
        Structure = structure;
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public InvalidLogFormatException()
        : this(null, 0, "log", "unknown", "invalid log format")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidLogFormatException(string message)
        : base(message, null)
    {
        Structure = "log";
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidLogFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Structure = "log";
    }

    /// <summary>The structure that failed validation; <see cref="InvalidFileFormatException.Field"/> is its field.</summary>
    public string Structure { get; }
}
