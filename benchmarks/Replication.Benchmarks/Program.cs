using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Replication.Benchmarks.ChangeTracking;

// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- --filter '*' [--job short|dry]
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- seed-compare SIZE_MIB RUNS REPL   (needs Azurite; REPL: the published CLI)
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- rotation-stall [seconds-per-phase]
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- tracked-vs-bare [rounds] [log-buffer-KiB] [preallocation-MiB]
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- cycle-cost [disk-MiB] [written-MiB] [rounds]
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- host-load [items] [seconds] [KB/s per item] [frequency-s] [disk-MiB]   (benchmarks/host-load.sh)
if (args.Length == 4 && args[0] == "seed-compare")
{
    return await Replication.Benchmarks.Transfer.SeedComparison.RunAsync(args);
}

// The peer of seed-compare, run by it as a process of its own.
if (args.Length == 4 && args[0] == "sdk-loop")
{
    return await Replication.Benchmarks.Transfer.SeedComparison.LoopAsync(args);
}

if (args.Length > 0 && args[0] == "rotation-stall")
{
    return await RotationStall.RunAsync(args);
}

if (args.Length > 0 && args[0] == "cycle-cost")
{
    return await Replication.Benchmarks.Replication.CycleCost.RunAsync(args);
}

if (args.Length > 0 && args[0] == "host-load")
{
    return await Replication.Benchmarks.Replication.HostLoad.RunAsync(args);
}

if (args.Length > 0 && args[0] == "tracked-vs-bare")
{
    return await TrackedWriteComparison.RunAsync(args);
}

IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

// A benchmark that crashes, or a suite that does not validate, fails the run (CI runs every suite in a short mode).
bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success || !r.BuildResult.IsBuildSuccess));
if (failed)
{
    Console.Error.WriteLine("benchmarks: at least one benchmark failed or did not validate");
}

return failed ? 1 : 0;
