using System.Reflection;

namespace MerkleSync.R2RProfile;

/// <summary>Types by the names the runtime's events give them, over every assembly the CLI and the shared framework hold.</summary>
internal sealed class RuntimeTypeNames(Dictionary<string, Type> byName)
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    public static RuntimeTypeNames LoadAll()
    {
        string runtime = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        string aspNet = Path.Combine(runtime, "..", "..", "Microsoft.AspNetCore.App", Path.GetFileName(runtime.TrimEnd('/')));
        var files = Directory.GetFiles(AppContext.BaseDirectory, "*.dll").Concat(Directory.GetFiles(runtime, "*.dll"))
            .Concat(Directory.Exists(aspNet) ? Directory.GetFiles(aspNet, "*.dll") : []);
        foreach (string file in files)
        {
            try
            {
                Assembly.LoadFrom(file);
            }
            catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
            {
                // a native library, or one the runtime holds under another path (System.Private.CoreLib)
            }
        }

        var byName = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            Type?[] types;
            try
            {
                types = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException e)
            {
                types = e.Types;
            }

            foreach (var type in types)
            {
                if (type?.FullName is { } name)
                {
                    byName.TryAdd(name, type);
                }
            }
        }

        return new RuntimeTypeNames(byName);
    }

    /// <summary>
    /// The method (every overload with its parameter count) on the type the event names; none for
    /// a generic method, whose type arguments the event does not give.
    /// </summary>
    public IReadOnlyList<MethodBase> Resolve(JittedMethod method)
    {
        int at = 0;
        Type? type;
        try
        {
            type = Parse(method.Type, ref at);
        }
        catch (ArgumentException)
        {
            return []; // arguments that break a constraint: the event's shared form (System.__Canon) stood for a class
        }

        if (type is null)
        {
            return [];
        }

        IEnumerable<MethodBase> named = method.Name is ".ctor" or ".cctor"
            ? type.GetConstructors(Declared).Where(c => c.IsStatic == (method.Name == ".cctor"))
            : type.GetMethods(Declared).Where(m => m.Name == method.Name && !m.IsGenericMethodDefinition);
        int arity = method.Signature.Contains("()", StringComparison.Ordinal) ? 0 : method.Signature.Count(c => c == ',') + 1;
        var found = named.Where(m => m.GetParameters().Length == arity).ToList();
        return found.Count > 0 ? found : [.. named];
    }

    // Name[Arg,Arg...] with nested arguments alike, then any [] of an array. System.__Canon, the
    // shared form, becomes object: crossgen2 compiles the shared code for any class argument.
    private Type? Parse(string text, ref int at)
    {
        int start = at;
        while (at < text.Length && text[at] is not ('[' or ',' or ']'))
        {
            at++;
        }

        string name = text[start..at].Trim();
        var arguments = new List<Type>();
        if (at + 1 < text.Length && text[at] == '[' && text[at + 1] != ']')
        {
            at++;
            while (true)
            {
                if (Parse(text, ref at) is not { } argument)
                {
                    return null;
                }

                arguments.Add(argument);
                if (text[at++] == ']')
                {
                    break;
                }
            }
        }

        var type = name == "System.__Canon" ? typeof(object) : byName.GetValueOrDefault(name);
        if (type is null)
        {
            return null;
        }

        if (arguments.Count > 0)
        {
            type = type.MakeGenericType([.. arguments]);
        }

        while (at + 1 < text.Length && text[at] == '[' && text[at + 1] == ']')
        {
            type = type.MakeArrayType();
            at += 2;
        }

        return type;
    }
}
