using System.Globalization;
using Replication.Core.Diff;
using Replication.Core.Disks;
using Replication.Core.Replication.Sites;
using Replication.Core.Targets;

namespace Replication.Hosting.TestChild;

/// <summary>
/// A site that records every replica write (a page write or clear) it passes on, to a log file: before it
/// "S SEQ HOST ITEM DISK OFFSET LENGTH START", after it "E SEQ END" (or "F SEQ END" when the target refused it), times in
/// nanoseconds since the Unix epoch by the wall clock every child on the machine reads — so that the scale-out test can
/// check that no two hosts wrote one replica at once (a write begun by a host killed before it ended lasts until the
/// kill). Test code: the host's own site is unchanged.
/// </summary>
internal sealed class WriteLogSite(IReplicationSite inner, string host, TextWriter log) : IReplicationSite
{
    public string Location => inner.Location;

    public IReplicaTarget GetDiskTarget(string item, int disk) => new Target(inner.GetDiskTarget(item, disk), $"{host} {item} {disk}", log);

    public long ReplicaSizeFor(long virtualSize) => inner.ReplicaSizeFor(virtualSize);

    public ValueTask EnsureWritableAsync(bool create, CancellationToken cancellationToken = default) => inner.EnsureWritableAsync(create, cancellationToken);

    public ValueTask<SiteRecord?> ReadRecordAsync(string item, CancellationToken cancellationToken = default) => inner.ReadRecordAsync(item, cancellationToken);

    public ValueTask<string> WriteRecordAsync(string item, ReadOnlyMemory<byte> content, string? expectedVersion, CancellationToken cancellationToken = default) =>
        inner.WriteRecordAsync(item, content, expectedVersion, cancellationToken);

    public IAsyncEnumerable<string> ListItemsAsync(CancellationToken cancellationToken = default) => inner.ListItemsAsync(cancellationToken);

    public ValueTask DeleteItemAsync(string item, CancellationToken cancellationToken = default) => inner.DeleteItemAsync(item, cancellationToken);

    private static long s_sequence;

    private static long NowNanoseconds() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private sealed class Target(IReplicaTarget inner, string replica, TextWriter log) : IReplicaTarget
    {
        public string Location => inner.Location;

        public ReplicaTargetCapabilities Capabilities => inner.Capabilities;

        public ValueTask<StagedLog> PutLogAsync(string name, Stream content, UInt128? expectedHash = null, CancellationToken cancellationToken = default) =>
            inner.PutLogAsync(name, content, expectedHash, cancellationToken);

        public IAsyncEnumerable<StagedLog> ListLogsAsync(CancellationToken cancellationToken = default) => inner.ListLogsAsync(cancellationToken);

        public ValueTask<Stream> OpenLogAsync(string name, CancellationToken cancellationToken = default) => inner.OpenLogAsync(name, cancellationToken);

        public ValueTask<bool> DeleteLogAsync(string name, CancellationToken cancellationToken = default) => inner.DeleteLogAsync(name, cancellationToken);

        public ValueTask<long?> GetReplicaSizeAsync(CancellationToken cancellationToken = default) => inner.GetReplicaSizeAsync(cancellationToken);

        public ValueTask<bool> CreateReplicaAsync(long virtualSize, CancellationToken cancellationToken = default) => inner.CreateReplicaAsync(virtualSize, cancellationToken);

        public ValueTask<IVirtualDisk> OpenReplicaAsync(CancellationToken cancellationToken = default) => inner.OpenReplicaAsync(cancellationToken);

        public ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default) => inner.OpenManifestAsync(cancellationToken);

        public IAsyncEnumerable<RecoveryPoint> ListRecoveryPointsAsync(CancellationToken cancellationToken = default) => inner.ListRecoveryPointsAsync(cancellationToken);

        public ValueTask<IVirtualDisk> OpenRecoveryPointAsync(string id, CancellationToken cancellationToken = default) => inner.OpenRecoveryPointAsync(id, cancellationToken);

        public async ValueTask<IReplicaWriter> AcquireWriterAsync(ReplicaWriterOptions? options = null, CancellationToken cancellationToken = default) =>
            new Writer(await inner.AcquireWriterAsync(options, cancellationToken).ConfigureAwait(false), replica, log);
    }

    private sealed class Writer(IReplicaWriter inner, string replica, TextWriter log) : IReplicaWriter
    {
        public string Location => inner.Location;

        public long VirtualSize => inner.VirtualSize;

        public int WriteAlignment => inner.WriteAlignment;

        public bool IsReadOnly => inner.IsReadOnly;

        public DateTimeOffset? FenceExpiresAt => inner.FenceExpiresAt;

        public long FenceEpoch => inner.FenceEpoch;

        public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) => inner.ReadAsync(offset, destination, cancellationToken);

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
            LoggedAsync(offset, data.Length, () => inner.WriteAsync(offset, data, cancellationToken));

        public ValueTask ZeroAsync(long offset, long length, CancellationToken cancellationToken = default) =>
            LoggedAsync(offset, length, () => inner.ZeroAsync(offset, length, cancellationToken));

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public IEnumerable<DiskExtent> GetAllocatedExtents(long offset, long length) => inner.GetAllocatedExtents(offset, length);

        public ValueTask RenewAsync(CancellationToken cancellationToken = default) => inner.RenewAsync(cancellationToken);

        public ValueTask WriteManifestAsync(Stream content, CancellationToken cancellationToken = default) => inner.WriteManifestAsync(content, cancellationToken);

        public ValueTask WithdrawManifestAsync(CancellationToken cancellationToken = default) => inner.WithdrawManifestAsync(cancellationToken);

        public ValueTask<StoredManifest> OpenManifestAsync(CancellationToken cancellationToken = default) => inner.OpenManifestAsync(cancellationToken);

        public ValueTask ReleaseAsync(CancellationToken cancellationToken = default) => inner.ReleaseAsync(cancellationToken);

        public ValueTask<RecoveryPoint> CreateRecoveryPointAsync(string? label = null, CancellationToken cancellationToken = default) => inner.CreateRecoveryPointAsync(label, cancellationToken);

        public ValueTask<bool> DeleteRecoveryPointAsync(string id, CancellationToken cancellationToken = default) => inner.DeleteRecoveryPointAsync(id, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();

        private async ValueTask LoggedAsync(long offset, long length, Func<ValueTask> write)
        {
            long seq = Interlocked.Increment(ref s_sequence);
            Line(string.Create(CultureInfo.InvariantCulture, $"S {seq} {replica} {offset} {length} {NowNanoseconds()}"));
            try
            {
                await write().ConfigureAwait(false);
            }
            catch
            {
                End(seq, "F");
                throw;
            }

            End(seq, "E");
        }

        private void End(long seq, string outcome) => Line(string.Create(CultureInfo.InvariantCulture, $"{outcome} {seq} {NowNanoseconds()}"));

        private void Line(string line)
        {
            log.WriteLine(line);
            log.Flush();
        }
    }
}
