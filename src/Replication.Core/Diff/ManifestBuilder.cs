using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Diff;

/// <summary>The manifest build service (<see cref="IManifestBuilder"/>). Stateless between calls; safe to share.</summary>
public sealed class ManifestBuilder : IManifestBuilder
{
    /// <inheritdoc />
    public Task<ManifestBuildResult> BuildAsync(
        IVirtualDisk disk,
        string path,
        ManifestOptions? options = null,
        IProgress<ManifestProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(disk);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= ManifestOptions.Default;
        OptionFailures.ThrowIfAny(options.Validate(), nameof(options));
        ManifestBuildRun.ThrowIfEmpty(disk, nameof(disk));
        string full = Path.GetFullPath(path);
        string work = $"{full}.{Guid.NewGuid():N}.tmp";
        return ManifestBuildRun.BuildAsync(disk, full, work, options, resume: false, 0, progress, null, cancellationToken);
    }
}
