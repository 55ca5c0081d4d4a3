using MerkleSync.Cli;

MerkleSync.Core.Index.NativeBinding.StartInBackground(); // most commands open a database
return await CliApp.RunAsync(args);
