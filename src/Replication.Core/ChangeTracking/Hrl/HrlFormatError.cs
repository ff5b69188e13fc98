using System.Globalization;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// Why a structure failed validation, without allocating: the forward scan tries to parse every sector of a log, so
/// the message is only formatted when an exception is actually thrown.
/// </summary>
/// <param name="Field">The field that failed.</param>
/// <param name="FieldOffset">Offset of the field inside its structure.</param>
/// <param name="Problem">What is wrong, in words.</param>
/// <param name="Found">The value found.</param>
/// <param name="Expected">The value expected, when there is exactly one.</param>
internal readonly record struct HrlFormatError(string Field, int FieldOffset, string Problem, ulong Found, ulong? Expected = null)
{
    /// <summary>The typed exception for this error in a structure at <paramref name="structureOffset"/> of a file.</summary>
    public InvalidLogFormatException ToException(string? filePath, long structureOffset, string structure)
    {
        string detail = Expected is ulong expected
            ? string.Create(CultureInfo.InvariantCulture, $"{Problem} (found {Found}, expected {expected})")
            : string.Create(CultureInfo.InvariantCulture, $"{Problem} (found {Found})");
        return new InvalidLogFormatException(filePath, structureOffset + FieldOffset, structure, Field, detail);
    }
}
