using System.Globalization;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// Why a structure failed validation, without allocating: the forward scan tries to parse every sector of a log, so
/// the message is only formatted when an exception is actually thrown.
/// </summary>
internal readonly struct HrlFormatError
{
    public HrlFormatError(string field, int fieldOffset, string problem, ulong found, ulong? expected = null)
    {
        Field = field;
        FieldOffset = fieldOffset;
        Problem = problem;
        Found = found;
        Expected = expected;
    }

    /// <summary>The field that failed.</summary>
    public string Field { get; }

    /// <summary>Offset of the field inside its structure.</summary>
    public int FieldOffset { get; }

    /// <summary>What is wrong, in words.</summary>
    public string Problem { get; }

    /// <summary>The value found.</summary>
    public ulong Found { get; }

    /// <summary>The value expected, when there is exactly one.</summary>
    public ulong? Expected { get; }

    /// <summary>The typed exception for this error in a structure at <paramref name="structureOffset"/> of a file.</summary>
    public InvalidLogFormatException ToException(string? filePath, long structureOffset, string structure)
    {
        string detail = Expected is ulong expected
            ? string.Create(CultureInfo.InvariantCulture, $"{Problem} (found {Found}, expected {expected})")
            : string.Create(CultureInfo.InvariantCulture, $"{Problem} (found {Found})");
        return new InvalidLogFormatException(filePath, structureOffset + FieldOffset, structure, Field, detail);
    }
}
