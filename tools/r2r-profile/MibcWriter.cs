using System.Reflection;
using System.Reflection.Emit;

namespace MerkleSync.R2RProfile;

/// <summary>
/// Writes methods as an MIBC profile, the format crossgen2's --mibc reads (dotnet/runtime's
/// MibcEmitter and MIbcProfileParser): an assembly whose global method AssemblyDictionary holds,
/// per group, <c>ldstr "Defining;Other;...;"</c> (the assemblies the group's methods involve, the
/// defining one first), <c>ldtoken</c> of a global method and <c>pop</c>; each such method holds
/// <c>ldtoken</c> and <c>pop</c> per profiled method. crossgen2 reads a group only if it compiles
/// every assembly the group names (a composite image of the whole app does).
/// </summary>
internal static class MibcWriter
{
    public static void Write(string path, IEnumerable<MethodBase> methods)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        var assembly = new PersistedAssemblyBuilder(new AssemblyName(name), typeof(object).Assembly);
        var module = assembly.DefineDynamicModule(name);
        var dictionary = module.DefineGlobalMethod("AssemblyDictionary", MethodAttributes.Public | MethodAttributes.Static, typeof(void), Type.EmptyTypes).GetILGenerator();
        int number = 0;
        foreach (var group in methods.Distinct().GroupBy(GroupName).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            string methodName = $"Assemblies_{(group.Key.Length > 200 ? group.Key[..200] : group.Key)}_{++number}";
            var holder = module.DefineGlobalMethod(methodName, MethodAttributes.Public | MethodAttributes.Static, typeof(void), Type.EmptyTypes);
            var il = holder.GetILGenerator();
            foreach (var method in group)
            {
                il.Emit(OpCodes.Ldtoken, method is MethodInfo info ? module.GetMethodMetadataToken(info) : module.GetMethodMetadataToken((ConstructorInfo)method));
                il.Emit(OpCodes.Pop);
            }

            il.Emit(OpCodes.Ret);
            dictionary.Emit(OpCodes.Ldstr, group.Key);
            dictionary.Emit(OpCodes.Ldtoken, module.GetMethodMetadataToken(holder));
            dictionary.Emit(OpCodes.Pop);
        }

        dictionary.Emit(OpCodes.Ret);
        module.CreateGlobalFunctions();
        assembly.Save(path);
    }

    private static string GroupName(MethodBase method)
    {
        var owner = method.DeclaringType!;
        var involved = new SortedSet<string>(StringComparer.Ordinal);
        AddAssemblies(owner, involved);
        string defining = owner.Assembly.GetName().Name!;
        involved.Remove(defining);
        return string.Concat(new[] { defining }.Concat(involved).Select(a => a + ";"));
    }

    private static void AddAssemblies(Type type, SortedSet<string> into)
    {
        if (type.HasElementType)
        {
            AddAssemblies(type.GetElementType()!, into);
            return;
        }

        into.Add(type.Assembly.GetName().Name!);
        foreach (var argument in type.IsGenericType ? type.GetGenericArguments() : [])
        {
            AddAssemblies(argument, into);
        }
    }
}
