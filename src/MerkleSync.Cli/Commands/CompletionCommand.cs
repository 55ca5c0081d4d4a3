using System.CommandLine;

namespace MerkleSync.Cli.Commands;

/// <summary>
/// Prints a shell script for tab completion. The script asks merklesync itself, through
/// System.CommandLine's suggest directive, so completions always match this build's verbs and options.
/// </summary>
internal static class CompletionCommand
{
    private const string Bash = """
        # merklesync tab completion for bash: eval "$(merklesync completion bash)"
        _merklesync_complete() {
          local IFS=$'\n'
          COMPREPLY=( $(merklesync "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) )
        }
        complete -o default -F _merklesync_complete merklesync
        """;

    public static Command Create()
    {
        var shell = new Argument<string>("SHELL") { Description = "bash or zsh.", DefaultValueFactory = _ => "bash" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a tab-completion script for bash or zsh.\n\nExamples:\n  eval \"$(merklesync completion bash)\"    # in ~/.bashrc\n  eval \"$(merklesync completion zsh)\"     # in ~/.zshrc")
        {
            shell,
        };
        command.SetAction(parse =>
        {
            // zsh runs the bash function through its bash-compatibility layer.
            Console.Out.WriteLine(parse.GetValue(shell) == "zsh" ? "autoload -U +X bashcompinit && bashcompinit\n" + Bash : Bash);
            return CliApp.Ok;
        });
        return command;
    }
}
