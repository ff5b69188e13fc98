using System.Globalization;
using System.Net.Sockets;
using Azure;

namespace Replication.Core.Targets.Azure;

/// <summary>
/// Turns what the Azure SDK throws into the library's typed errors: transient (retry), authentication (never retry),
/// missing resources, fence lost or held. Messages are built from the status and error code only, never from the
/// request, so no key, SAS signature or token can leak into them; authentication failures carry no inner exception
/// because the service's answer may echo the request's signature.
/// </summary>
internal static class AzureErrors
{
    private static readonly HashSet<string> FenceCodes = new(StringComparer.OrdinalIgnoreCase)
    {
        "LeaseIdMismatchWithBlobOperation", "LeaseIdMismatchWithLeaseOperation", "LeaseLost", "LeaseNotPresentWithBlobOperation",
        "LeaseNotPresentWithLeaseOperation", "LeaseIdMissing", "SequenceNumberConditionNotMet", "LeaseIsBrokenAndCannotBeRenewed",
        "LeaseIsBreakingAndCannotBeAcquired",
    };

    /// <summary>Maps <paramref name="exception"/>; false for exceptions that are not the target's to explain.</summary>
    public static bool TryMap(Exception exception, string location, string what, CancellationToken cancellationToken, out ReplicaTargetException mapped)
    {
        mapped = exception switch
        {
            ReplicaTargetException => null!,
            RequestFailedException r => FromService(r, location, what),

            // The SDK's own retry policy gives up with every attempt's failure in an AggregateException: the last says why.
            AggregateException { InnerExceptions: [.., var last] } when TryMap(last, location, what, cancellationToken, out ReplicaTargetException inner) => inner,
            OperationCanceledException when !cancellationToken.IsCancellationRequested =>
                new ReplicaTargetException(ReplicationErrorCode.TargetUnavailable, true, $"{location}: {what} timed out.", innerException: exception),
            IOException or HttpRequestException or SocketException =>
                new ReplicaTargetException(ReplicationErrorCode.TargetUnavailable, true, $"{location}: {what} failed: the connection was lost or refused ({exception.GetType().Name}).", innerException: exception),
            _ when exception.GetType().Name is "AuthenticationFailedException" or "CredentialUnavailableException" =>
                new ReplicaTargetException(ReplicationErrorCode.AuthenticationFailed, false, $"{location}: {what} failed: the token credential could not get a token ({exception.GetType().Name})."),
            _ => null!,
        };
        return mapped is not null;
    }

    private static ReplicaTargetException FromService(RequestFailedException r, string location, string what)
    {
        string code = r.ErrorCode ?? "";
        string said = string.Create(CultureInfo.InvariantCulture, $"{r.Status}{(code.Length > 0 ? " " + code : "")}");
        TimeSpan? retryAfter = RetryAfter(r.GetRawResponse());
        return r.Status switch
        {
            401 or 403 => new ReplicaTargetException(
                ReplicationErrorCode.AuthenticationFailed, false,
                $"{location}: {what} was refused ({said}): the account key, SAS or token is wrong, expired or lacks permission.",
                r.Status, r.ErrorCode),
            404 when code == "ContainerNotFound" => new ReplicaTargetException(
                ReplicationErrorCode.NotFound, false, $"{location}: {what} failed: the container does not exist ({said}).", r.Status, r.ErrorCode, innerException: r),
            404 => new ReplicaTargetException(
                ReplicationErrorCode.NotFound, false, $"{location}: {what} failed: it does not exist ({said}).", r.Status, r.ErrorCode, innerException: r),
            409 when code == "LeaseAlreadyPresent" => new ReplicaTargetException(
                ReplicationErrorCode.FenceHeld, true, $"{location}: another writer holds the replica's lease ({said}).", r.Status, r.ErrorCode, innerException: r),
            409 or 412 when FenceCodes.Contains(code) => new ReplicaTargetException(
                ReplicationErrorCode.FenceLost, false, $"{location}: {what} was rejected: this writer no longer holds the fence ({said}).", r.Status, r.ErrorCode, innerException: r),
            0 => new ReplicaTargetException(
                ReplicationErrorCode.TargetUnavailable, true, $"{location}: {what} failed: no answer from the service (connection refused or lost; is the endpoint right and reachable?).", 0, r.ErrorCode, retryAfter, r),
            408 or 429 or 500 or 502 or 503 or 504 => new ReplicaTargetException(
                ReplicationErrorCode.TargetUnavailable, true, $"{location}: {what} failed transiently ({said}).", r.Status, r.ErrorCode, retryAfter, r),
            _ => new ReplicaTargetException(
                ReplicationErrorCode.Unknown, false, $"{location}: {what} failed ({said}).", r.Status, r.ErrorCode, innerException: r),
        };
    }

    /// <summary>Retry-After in seconds or as an HTTP date, or the x-ms-retry-after-ms header.</summary>
    private static TimeSpan? RetryAfter(Response? response)
    {
        if (response is null)
        {
            return null;
        }

        if (response.Headers.TryGetValue("x-ms-retry-after-ms", out string? ms) && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out double milliseconds))
        {
            return TimeSpan.FromMilliseconds(Math.Max(0, milliseconds));
        }

        if (response.Headers.TryGetValue("Retry-After", out string? value))
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
            {
                return TimeSpan.FromSeconds(Math.Max(0, seconds));
            }

            if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset at))
            {
                TimeSpan wait = at - DateTimeOffset.UtcNow;
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }
        }

        return null;
    }
}
