using MerkleSync.R2RProfile;

// Writes the profile that tells crossgen2 which generic instantiations to compile into the
// ReadyToRun composite image: the methods the JIT compiled at run time in the given EventPipe
// traces (tools/r2r-profile/generate.sh makes them). Usage: MerkleSync.R2RProfile OUT.mibc TRACE.nettrace...
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: MerkleSync.R2RProfile OUT.mibc TRACE.nettrace...");
    return 2;
}

var jitted = JittedMethods.Read(args[1..]);
var types = RuntimeTypeNames.LoadAll();
var methods = new List<System.Reflection.MethodBase>();
var unresolved = new List<string>();
foreach (var method in jitted)
{
    var found = types.Resolve(method);
    if (found.Count == 0)
    {
        unresolved.Add($"{method.Type}::{method.Name}");
    }

    methods.AddRange(found);
}

MibcWriter.Write(args[0], methods);
Console.Error.WriteLine($"{jitted.Count} methods compiled at run time in the traces; {methods.Count} named in {args[0]}; {unresolved.Count} left out (generic methods, whose type arguments the traces do not give, and types reflection cannot build):");
foreach (string name in unresolved.Order(StringComparer.Ordinal))
{
    Console.Error.WriteLine($"  {name}");
}

return 0;
