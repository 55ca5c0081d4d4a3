namespace MerkleSync.Cli.Output;

/// <summary>Warnings on standard error: printed even with --quiet or --json, whose standard output they leave alone.</summary>
internal static class Warnings
{
    private const int NamesShown = 5;

    /// <summary>Says which FIFOs, sockets and devices a scan left out, so none goes missing from a version unnoticed.</summary>
    public static void SpecialFilesLeftOut(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0)
        {
            return;
        }

        string names = string.Join(", ", paths.Take(NamesShown).Select(Format.Path));
        string more = paths.Count > NamesShown ? $" and {paths.Count - NamesShown} more" : "";
        Console.Error.WriteLine($"warning: left out {paths.Count} special file(s) (FIFO, socket or device), which have no content to version: {names}{more}.");
    }
}
