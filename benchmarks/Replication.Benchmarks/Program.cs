using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Replication.Benchmarks -- --filter '*' [--job short|dry]
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
