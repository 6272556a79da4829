using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace TinyTorch.Nn;

/// <summary>
/// The base of neural-network layers and models: a function of one <see cref="Variable"/> that owns parameters
/// and sub-modules, found by reflection on its fields.
/// </summary>
/// <remarks>
/// <para>PyTorch: <c>torch.nn.Module</c>.</para>
/// <para>
/// What counts, among the instance fields of the module's class and its base classes (any visibility, auto-property
/// backing fields included, in declaration order, base classes first):
/// a field of type <see cref="Variable"/> holding a leaf that requires grad is a <b>parameter</b>; a field whose type
/// derives from <see cref="Module"/> is a <b>child</b>; a field whose type is a collection of variables or of modules
/// (an array, a list, any <see cref="IEnumerable{T}"/>) holds parameters or children named by their index. Names are
/// the field's (or auto-property's) name in camelCase without leading underscores, so a property <c>Weight</c> is
/// <c>weight</c> and element 0 of a list <c>Layers</c> is <c>layers.0</c>. Computed properties are not scanned.
/// </para>
/// <para>
/// Order, as in PyTorch: a module's own parameters first, then each child's, depth first. A parameter or module
/// reachable twice (shared weights, cycles) is listed once, under the first name found.
/// </para>
/// <para>
/// Not thread-safe for changes: use a module from one thread at a time while it is trained (backward, optimizer
/// steps, <see cref="Train"/>). Forward passes of modules without randomness on several threads at once are safe
/// as long as no thread changes the parameters meanwhile.
/// </para>
/// </remarks>
public abstract class Module
{
    private static readonly ConcurrentDictionary<Type, Member[]> MembersByType = new();

    /// <summary>Applies the module to <paramref name="input"/>, recording the graph for backward passes.</summary>
    /// <param name="input">The input, usually a batch with the batch dimension first.</param>
    /// <returns>The output.</returns>
    /// <remarks>PyTorch: <c>Module.forward</c> (called through <c>module(input)</c>).</remarks>
    public abstract Variable Forward(Variable input);

    /// <summary>True in training mode (the default), false in evaluation mode; changes how <see cref="Dropout"/> behaves.</summary>
    /// <remarks>PyTorch: <c>Module.training</c>.</remarks>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Puts this module and every module under it into training mode (or evaluation mode when <paramref name="mode"/> is false).</summary>
    /// <param name="mode">True for training, false for evaluation.</param>
    /// <returns>This module.</returns>
    /// <remarks>PyTorch: <c>Module.train(mode=True)</c>.</remarks>
    public Module Train(bool mode = true)
    {
        foreach (var module in Modules())
        {
            module.IsTraining = mode;
        }
        return this;
    }

    /// <summary>Puts this module and every module under it into evaluation mode (<c>Train(false)</c>).</summary>
    /// <returns>This module.</returns>
    /// <remarks>PyTorch: <c>Module.eval</c>.</remarks>
    public Module Eval() => Train(false);

    /// <summary>The direct sub-modules with their names (fields of module type, and collections of modules named <c>field.index</c>).</summary>
    /// <returns>The children in declaration order; null fields and elements are skipped.</returns>
    /// <remarks>PyTorch: <c>Module.named_children</c>. Containers such as <see cref="Sequential"/> override it to name children by index.</remarks>
    public virtual IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        foreach (var member in MembersOf(GetType()))
        {
            switch (member.Kind)
            {
                case MemberKind.Module when member.Get(this) is Module child:
                    yield return (member.Name, child);
                    break;
                case MemberKind.Modules when member.Get(this) is IEnumerable<Module?> children:
                    foreach (var (child, i) in children.Select((c, i) => (c, i)))
                    {
                        if (child is not null)
                        {
                            yield return ($"{member.Name}.{i}", child);
                        }
                    }
                    break;
            }
        }
    }

    /// <summary>The direct sub-modules.</summary>
    /// <returns>The children of <see cref="NamedChildren"/>, without names.</returns>
    /// <remarks>PyTorch: <c>Module.children</c>.</remarks>
    public IEnumerable<Module> Children() => NamedChildren().Select(c => c.Module);

    /// <summary>This module and every module under it, depth first, each once, with dotted names (this module's is empty).</summary>
    /// <returns>Pairs of a dotted name such as <c>layers.0</c> and the module.</returns>
    /// <remarks>PyTorch: <c>Module.named_modules</c>.</remarks>
    public IReadOnlyList<(string Name, Module Module)> NamedModules()
    {
        var found = new List<(string, Module)>();
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(string Name, Module Module)>();
        pending.Push(("", this));
        while (pending.TryPop(out var next))
        {
            if (!seen.Add(next.Module))
            {
                continue;
            }
            found.Add(next);
            foreach (var (name, child) in next.Module.NamedChildren().Reverse())
            {
                pending.Push((Join(next.Name, name), child));
            }
        }
        return found;
    }

    /// <summary>This module and every module under it, depth first, each once.</summary>
    /// <returns>The modules of <see cref="NamedModules"/>, without names.</returns>
    /// <remarks>PyTorch: <c>Module.modules</c>.</remarks>
    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Module);

    /// <summary>
    /// Every parameter of this module and the modules under it, with dotted names such as <c>0.weight</c> or
    /// <c>layers.1.bias</c>: each module's own parameters, then its children's, depth first; each parameter once.
    /// </summary>
    /// <returns>Pairs of a dotted name and the parameter.</returns>
    /// <remarks>PyTorch: <c>Module.named_parameters</c>.</remarks>
    public IReadOnlyList<(string Name, Variable Parameter)> NamedParameters()
    {
        var found = new List<(string, Variable)>();
        var seen = new HashSet<Variable>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, module) in NamedModules())
        {
            foreach (var (name, parameter) in module.OwnParameters())
            {
                if (seen.Add(parameter))
                {
                    found.Add((Join(prefix, name), parameter));
                }
            }
        }
        return found;
    }

    /// <summary>Every parameter of this module and the modules under it, in the order of <see cref="NamedParameters"/>.</summary>
    /// <returns>The parameters, each once; pass them to an optimizer.</returns>
    /// <remarks>PyTorch: <c>Module.parameters</c>.</remarks>
    public IReadOnlyList<Variable> Parameters() => NamedParameters().Select(p => p.Parameter).ToArray();

    /// <summary>Clears the gradient of every parameter: to null by default, to zeros when <paramref name="setToNone"/> is false.</summary>
    /// <param name="setToNone">True (PyTorch's default) to set each gradient to null; false for zeros of the parameter's shape.</param>
    /// <remarks>PyTorch: <c>Module.zero_grad(set_to_none=True)</c>.</remarks>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var parameter in Parameters())
        {
            if (setToNone)
            {
                parameter.Grad = null;
            }
            else
            {
                parameter.ZeroGrad();
            }
        }
    }

    /// <summary>The parameters held directly by this module's fields.</summary>
    private IEnumerable<(string Name, Variable Parameter)> OwnParameters()
    {
        foreach (var member in MembersOf(GetType()))
        {
            switch (member.Kind)
            {
                case MemberKind.Parameter when member.Get(this) is Variable v && IsParameter(v):
                    yield return (member.Name, v);
                    break;
                case MemberKind.Parameters when member.Get(this) is IEnumerable<Variable?> vs:
                    foreach (var (v, i) in vs.Select((v, i) => (v, i)))
                    {
                        if (v is not null && IsParameter(v))
                        {
                            yield return ($"{member.Name}.{i}", v);
                        }
                    }
                    break;
            }
        }
    }

    private static bool IsParameter(Variable v) => v.RequiresGrad && v.IsLeaf;

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";

    private enum MemberKind
    {
        Parameter,
        Parameters,
        Module,
        Modules,
    }

    private sealed record Member(string Name, MemberKind Kind, FieldInfo Field)
    {
        public object? Get(object owner) => Field.GetValue(owner);
    }

    /// <summary>The fields of <paramref name="type"/> that hold parameters or modules, computed once per type.</summary>
    private static Member[] MembersOf(Type type) => MembersByType.GetOrAdd(type, static t =>
    {
        var hierarchy = new List<Type>();
        for (var c = t; c is not null && c != typeof(Module); c = c.BaseType)
        {
            hierarchy.Insert(0, c);
        }
        return hierarchy
            .SelectMany(c => c.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                .OrderBy(f => f.MetadataToken))
            .Select(f => KindOf(f.FieldType) is { } kind ? new Member(NameOf(f), kind, f) : null)
            .OfType<Member>()
            .ToArray();
    });

    private static MemberKind? KindOf(Type type) =>
        type == typeof(Variable) ? MemberKind.Parameter
        : typeof(Module).IsAssignableFrom(type) ? MemberKind.Module
        : typeof(IEnumerable<Module?>).IsAssignableFrom(type) ? MemberKind.Modules
        : typeof(IEnumerable<Variable?>).IsAssignableFrom(type) ? MemberKind.Parameters
        : null;

    /// <summary><c>Weight</c> for the backing field <c>&lt;Weight&gt;k__BackingField</c>, else the field's name, in camelCase without leading underscores.</summary>
    private static string NameOf(FieldInfo field)
    {
        var name = field.Name;
        if (field.IsDefined(typeof(CompilerGeneratedAttribute)) && name.StartsWith('<') && name.IndexOf('>') is var end and > 1)
        {
            name = name[1..end];
        }
        return JsonNamingPolicy.CamelCase.ConvertName(name.TrimStart('_'));
    }
}
