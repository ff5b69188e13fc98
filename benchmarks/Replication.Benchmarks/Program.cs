using BenchmarkDotNet.Running;
using Replication.Benchmarks.ChangeTracking;

// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- --filter '*' [--job short|dry]
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- rotation-stall [seconds-per-phase]
// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- tracked-vs-bare [rounds] [log-buffer-KiB] [preallocation-MiB]
if (args.Length > 0 && args[0] == "rotation-stall") { return await RotationStall.RunAsync(args); }
if (args.Length > 0 && args[0] == "tracked-vs-bare") { return await TrackedWriteComparison.RunAsync(args); }

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
