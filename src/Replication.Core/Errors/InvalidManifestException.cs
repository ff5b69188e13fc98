namespace Replication.Core;

/// <summary>
/// A block manifest (a durable record of this library) is corrupt, truncated, of another
/// version, or does not describe the disk it is used with (other virtual size or block sizes). The message names the
/// file, the byte offset in the file and the field that failed validation. Such a file is never trusted; retrying does
/// not help: delete it (it is rebuilt from the disk) or supply the right one.
/// </summary>
public class InvalidManifestException : InvalidRecordException
{
    /// <summary>Creates the exception for a field at an offset of a file.</summary>
    /// <param name="filePath">The manifest or checkpoint file (null for one held in memory).</param>
    /// <param name="offset">Byte offset in the file of the structure or field that failed.</param>
    /// <param name="field">The structure and field name, for example <c>manifest header.Version</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public InvalidManifestException(string? filePath, long offset, string field, string detail, Exception? innerException = null)
        : base(filePath, offset, field, detail, innerException)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public InvalidManifestException()
        : this(null, 0, "unknown", "invalid manifest")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidManifestException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidManifestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
