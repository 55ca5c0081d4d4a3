using MerkleSync.Cli;

return await CliApp.RunAsync(args);
