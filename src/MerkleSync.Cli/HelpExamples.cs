using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace MerkleSync.Cli;

/// <summary>
/// Commands write examples after a blank line in their description, next to the code they
/// illustrate. This moves that part out of the description, so the command list in the top-level
/// help stays one line per verb, and prints it at the end of the command's own help page.
/// </summary>
internal static class HelpExamples
{
    public static void Install(RootCommand root)
    {
        var examples = new Dictionary<Command, string>();
        Collect(root, examples);
        var help = root.Options.OfType<HelpOption>().Single();
        if (help.Action is HelpAction standard)
        {
            help.Action = new WithExamples(standard, examples);
        }
    }

    private sealed class WithExamples(HelpAction standard, Dictionary<Command, string> examples) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            int code = standard.Invoke(parseResult);
            if (examples.TryGetValue(parseResult.CommandResult.Command, out string? text))
            {
                parseResult.InvocationConfiguration.Output.WriteLine(text);
                parseResult.InvocationConfiguration.Output.WriteLine();
            }

            return code;
        }
    }

    private static void Collect(Command command, Dictionary<Command, string> examples)
    {
        int split = command.Description?.IndexOf("\n\n", StringComparison.Ordinal) ?? -1;
        if (split >= 0)
        {
            examples[command] = command.Description![(split + 2)..];
            command.Description = command.Description[..split];
        }

        foreach (var sub in command.Subcommands)
        {
            Collect(sub, examples);
        }
    }
}
