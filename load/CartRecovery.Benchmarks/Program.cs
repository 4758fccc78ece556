// Micro-benchmarks of the worker's hot paths (docs/performance.md). Run, e.g.:
//   dotnet run -c Release --project load/CartRecovery.Benchmarks -- --filter '*' --job short
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(CartRecovery.Benchmarks.Samples).Assembly).Run(args);
