namespace Replication.Core;

/// <summary>
/// A durable record of this library (a checkpoint, the change tracking state, an integrity sidecar, a fence, a block
/// manifest's header, a sealed file's header, an undo log) is corrupt, truncated, of another version, or does not fit
/// the operation it is used for. The message names the file, the byte offset in the file and the field that failed
/// validation (<c>record.Field</c>). Such a record is never trusted; retrying does not help: the owner of the record says
/// what to do (most are rebuilt when deleted).
/// </summary>
public class InvalidRecordException : InvalidFileFormatException
{
    /// <summary>Creates the exception for a field at an offset of a file.</summary>
    /// <param name="filePath">The record's file (null for one held in memory).</param>
    /// <param name="offset">Byte offset in the file of the field (or structure) that failed.</param>
    /// <param name="field">The record and field, for example <c>resync checkpoint.Cursor</c>.</param>
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
