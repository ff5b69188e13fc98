using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- --filter '*' [--job short|dry]
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- seed-compare SIZE_MIB RUNS   (needs Azurite)
if (args.Length == 3 && args[0] == "seed-compare")
{
    return await Replication.Benchmarks.Transfer.SeedComparison.RunAsync(args);
}

IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

// A benchmark that crashes, or a suite that does not validate, fails the run (CI runs every suite in a short mode).
bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success || !r.BuildResult.IsBuildSuccess));
if (failed)
{
    Console.Error.WriteLine("benchmarks: at least one benchmark failed or did not validate");
}

return failed ? 1 : 0;
