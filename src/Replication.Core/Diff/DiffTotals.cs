namespace Replication.Core.Diff;

/// <summary>Running totals of a diff enumeration.</summary>
internal sealed class DiffTotals
{
    public long ChangedBytes { get; set; }

    public long ZeroBytes { get; set; }

    public int DifferingBlocks { get; set; }

    public int Ranges { get; set; }

    public long ManifestBytes { get; set; }

    public void Add(DiffRange range)
    {
        ChangedBytes += range.Length;
        ZeroBytes += range.IsZero ? range.Length : 0;
        Ranges++;
        ManifestBytes += BlockDiff.RangeHeaderWireBytes;
    }
}
