using MerkleSync.Cli;

// RocksDbSharp binds RocksDB's native library by emitting a type and a delegate per function:
// 0.2-0.65 s of the process, depending on the machine. Most commands need it, so start it now.
_ = Task.Run(MerkleSync.Core.Index.RocksStore.LoadNativeLibrary);
return await CliApp.RunAsync(args);
