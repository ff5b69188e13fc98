namespace Replication.Core;

/// <summary>
/// A disk image (or a structure inside it) is corrupt, truncated, hostile or of an unexpected format.
/// The message names the file, the byte offset in the file and the field that failed validation.
/// Never recoverable by retrying: the file must be repaired or replaced.
/// </summary>
public class InvalidDiskFormatException : InvalidFileFormatException
{
    /// <summary>Creates the exception for a field at an offset of a file.</summary>
    /// <param name="filePath">The file that holds the bad structure (may be null for in-memory images).</param>
    /// <param name="offset">Byte offset in the file of the structure or field that failed.</param>
    /// <param name="field">The structure and field name, for example <c>VHD footer.Checksum</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public InvalidDiskFormatException(string? filePath, long offset, string field, string detail, Exception? innerException = null)
        : base(filePath, offset, field, detail, innerException)
    {
    }

    /// <summary>Creates the exception for a field at an offset of a file, with a message of its own.</summary>
    /// <param name="message">The whole message; it names the file and what is wrong.</param>
    /// <param name="filePath">The file that holds the structure (null for in-memory images).</param>
    /// <param name="offset">Byte offset in the file of the structure or field.</param>
    /// <param name="field">The structure and field, for example <c>file signature</c>.</param>
    protected InvalidDiskFormatException(string message, string? filePath, long offset, string field)
        : base(message, filePath, offset, field, null)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public InvalidDiskFormatException()
        : this(null, 0, "unknown", "invalid disk format")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidDiskFormatException(string message)
        : base(message, null)
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidDiskFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
