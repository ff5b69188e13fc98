namespace Replication.Core.Tests.Disks.Vhdx;

/// <summary>Thrown by a fault injection hook to stop a metadata update at a chosen point, as a crash would.</summary>
public sealed class SimulatedCrashException : Exception
{
    public SimulatedCrashException()
        : base("simulated crash")
    {
    }

    public SimulatedCrashException(string message)
        : base(message)
    {
    }

    public SimulatedCrashException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
