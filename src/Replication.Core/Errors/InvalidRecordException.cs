namespace Replication.Core;

/// <summary>
/// A record of this library's own (a protected item's record at a site or beside a disk) is corrupt, truncated, of
/// another format or version. The message names the file (or blob), the offset and the field that failed validation.
/// Such a record is never used; retrying does not help: an operator restores or removes it.
/// </summary>
public class InvalidRecordException : InvalidFileFormatException
{
    /// <summary>Creates the exception for a field at an offset of a record.</summary>
    /// <param name="filePath">The record's file or blob.</param>
    /// <param name="offset">Byte offset in the record of the field that failed.</param>
    /// <param name="field">The record and field, for example <c>replication record.xxh3</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public InvalidRecordException(string? filePath, long offset, string field, string detail, Exception? innerException = null)
        : base(filePath, offset, field, detail, innerException)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public InvalidRecordException()
        : this(null, 0, "unknown", "invalid record")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidRecordException(string message)
        : base(message, null)
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public InvalidRecordException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
