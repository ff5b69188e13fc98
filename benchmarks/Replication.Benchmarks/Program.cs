using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- --filter '*' [--job short|dry]
if (args.Length == 3 && args[0] == "seed-compare") { return await Replication.Benchmarks.Transfer.SeedComparison.RunAsync(args); }

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
