using MerkleSync.Cli;

// Binding RocksDB's native library takes ~0.2 s of the process; most commands need it, so start it
// while the command line is built and parsed.
_ = Task.Run(MerkleSync.Core.Index.RocksStore.LoadNativeLibrary);
return await CliApp.RunAsync(args);
