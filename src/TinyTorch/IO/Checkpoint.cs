using System.Collections.ObjectModel;
using TinyTorch.Nn;
using TinyTorch.Optim;

namespace TinyTorch.IO;

/// <summary>
/// Saves and restores a model's named parameters, and optionally an optimizer's state, as one
/// safetensors file (see <see cref="SafeTensors"/>): parameter <c>"0.weight"</c> is stored under
/// <c>"0.weight"</c>, optimizer tensor <c>"m.0.weight"</c> under <c>"optimizer.m.0.weight"</c>.
/// Saving is atomic; loading is all or nothing.
/// </summary>
/// <remarks>
/// PyTorch: <c>safetensors.torch.save_file(model.state_dict(), path)</c> and
/// <c>model.load_state_dict(load_file(path), strict=True)</c>. Unlike PyTorch, which writes the optimizer
/// state with <c>torch.save</c> (pickle), the optimizer tensors go into the same safetensors file under
/// the <see cref="OptimizerPrefix"/> prefix.
/// </remarks>
public static class Checkpoint
{
    /// <summary>The key prefix of the optimizer-state tensors, <c>"optimizer."</c>.</summary>
    /// <remarks>PyTorch: the optimizer state lives in a separate <c>optimizer.state_dict()</c>.</remarks>
    public const string OptimizerPrefix = "optimizer.";

    private const int MaxProblemsShown = 10;

    /// <summary>
    /// Writes the parameters' current values (and <paramref name="optimizerState"/> under
    /// <see cref="OptimizerPrefix"/>) to <paramref name="path"/>, atomically: an error or a crash leaves
    /// the previous file intact.
    /// </summary>
    /// <param name="path">The file to create or replace (by convention <c>*.safetensors</c>).</param>
    /// <param name="namedParameters">The parameters by name, e.g. a module's named parameters.</param>
    /// <param name="optimizerState">Optimizer tensors by name (moments, step counts), or null.</param>
    /// <param name="metadata">Free-form strings stored in the file's <c>__metadata__</c>, or null.</param>
    /// <exception cref="ArgumentException">A name or parameter is null, a name repeats, or a parameter name starts with <see cref="OptimizerPrefix"/> or is <c>__metadata__</c>.</exception>
    /// <exception cref="IOException">The file cannot be written (the previous file is left intact).</exception>
    /// <remarks>PyTorch: <c>safetensors.torch.save_file(model.state_dict(), path, metadata)</c> (plus the optimizer's <c>state_dict()</c>).</remarks>
    public static void Save(
        string path,
        IEnumerable<KeyValuePair<string, Variable>> namedParameters,
        IReadOnlyDictionary<string, Tensor>? optimizerState = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parameters = Collect(namedParameters, requireLeaves: false);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, parameter) in parameters)
        {
            tensors[name] = parameter.Data;
        }

        if (optimizerState is not null)
        {
            foreach (var (name, tensor) in optimizerState)
            {
                tensors[OptimizerPrefix + name] = tensor ?? throw new ArgumentException($"Checkpoint.Save: optimizer tensor '{name}' is null.", nameof(optimizerState));
            }
        }

        SafeTensors.Save(path, tensors, metadata);
    }

    /// <summary>
    /// Restores the parameters from <paramref name="path"/>. Everything is checked before anything
    /// changes: the file (see <see cref="SafeTensors.Load"/>), then that every parameter has a tensor of
    /// its dtype and shape and that the file holds no other parameter tensor. Only then is every
    /// parameter's <see cref="Variable.Data"/> replaced; on any exception no parameter has changed.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="namedParameters">The parameters by name; each must be a leaf.</param>
    /// <returns>The optimizer-state tensors found in the file, by name without the <see cref="OptimizerPrefix"/> (empty when there are none).</returns>
    /// <exception cref="InvalidDataException">The file is malformed, or a parameter tensor is missing, extra, or of another dtype or shape (the message names the file and lists every such tensor with the expected and found dtype and shape).</exception>
    /// <exception cref="ArgumentException">A name or parameter is null, a name repeats, or a parameter is not a leaf.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <remarks>PyTorch: <c>model.load_state_dict(safetensors.torch.load_file(path), strict=True)</c>, but all or nothing.</remarks>
    public static IReadOnlyDictionary<string, Tensor> Load(string path, IEnumerable<KeyValuePair<string, Variable>> namedParameters)
    {
        var (commit, optimizerState) = Prepare(path, namedParameters);
        commit();
        return optimizerState;
    }

    /// <summary>Saves a module's parameters (named as <see cref="Module.NamedParameters"/> names them) and, optionally, an optimizer's state.</summary>
    /// <param name="path">The target file; written atomically.</param>
    /// <param name="module">The module whose parameters are saved.</param>
    /// <param name="optimizer">An optimizer whose state is saved under <c>optimizer.</c>, or null.</param>
    /// <param name="metadata">Free-form string metadata (<c>__metadata__</c>), or null.</param>
    /// <remarks>PyTorch: <c>safetensors.torch.save_model(model, path)</c> plus <c>optimizer.state_dict()</c>.</remarks>
    public static void Save(string path, Module module, Optimizer? optimizer = null, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(path, Named(module), optimizer?.StateTensors(), metadata);

    /// <summary>
    /// Loads a module's parameters and, optionally, an optimizer's state. Everything is validated first (the file, every
    /// parameter's name, dtype and shape, the optimizer state); on any error nothing changes.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="module">The module whose parameters are replaced.</param>
    /// <param name="optimizer">An optimizer whose state is restored, or null.</param>
    /// <exception cref="InvalidDataException">The file is malformed or does not match the module.</exception>
    /// <exception cref="ArgumentException">The optimizer state does not fit the optimizer.</exception>
    /// <remarks>PyTorch: <c>safetensors.torch.load_model(model, path)</c> plus <c>optimizer.load_state_dict()</c>.</remarks>
    public static void Load(string path, Module module, Optimizer? optimizer = null)
    {
        var (commitParameters, optimizerState) = Prepare(path, Named(module));
        var commitOptimizer = optimizer is null ? () => { } : optimizer.PrepareLoadState(optimizerState);
        commitParameters();
        commitOptimizer();
    }

    private static IEnumerable<KeyValuePair<string, Variable>> Named(Module module) =>
        (module ?? throw new ArgumentNullException(nameof(module))).NamedParameters().Select(p => KeyValuePair.Create(p.Name, p.Parameter));

    private static (Action Commit, IReadOnlyDictionary<string, Tensor> OptimizerState) Prepare(string path, IEnumerable<KeyValuePair<string, Variable>> namedParameters)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parameters = Collect(namedParameters, requireLeaves: true);
        var (tensors, _) = SafeTensors.Load(path);

        var problems = new List<string>();
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, parameter) in parameters)
        {
            expected.Add(name);
            if (!tensors.TryGetValue(name, out var found))
            {
                problems.Add($"'{name}' is missing (expected {Describe(parameter.Data)})");
            }
            else if (found.DType != parameter.DType || !found.Shape.Equals(parameter.Shape))
            {
                problems.Add($"'{name}': expected {Describe(parameter.Data)}, found {Describe(found)}");
            }
        }

        foreach (var (name, tensor) in tensors)
        {
            if (!name.StartsWith(OptimizerPrefix, StringComparison.Ordinal) && !expected.Contains(name))
            {
                problems.Add($"'{name}' ({Describe(tensor)}) matches no parameter");
            }
        }

        if (problems.Count > 0)
        {
            var shown = string.Join("; ", problems.Take(MaxProblemsShown));
            var more = problems.Count > MaxProblemsShown ? $"; and {problems.Count - MaxProblemsShown} more" : "";
            throw new InvalidDataException($"{path}: the checkpoint does not match the parameters, so none was changed: {shown}{more}.");
        }

        void Commit()
        {
            foreach (var (name, parameter) in parameters)
            {
                parameter.Data = tensors[name];
            }
        }

        var optimizerState = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                optimizerState[name[OptimizerPrefix.Length..]] = tensor;
            }
        }

        return (Commit, new ReadOnlyDictionary<string, Tensor>(optimizerState));
    }

    private static List<KeyValuePair<string, Variable>> Collect(IEnumerable<KeyValuePair<string, Variable>> namedParameters, bool requireLeaves)
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        var parameters = namedParameters.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, parameter) in parameters)
        {
            if (name is null)
            {
                throw new ArgumentException("Checkpoint: a parameter has a null name.", nameof(namedParameters));
            }

            if (parameter is null)
            {
                throw new ArgumentException($"Checkpoint: parameter '{name}' is null.", nameof(namedParameters));
            }

            if (!names.Add(name))
            {
                throw new ArgumentException($"Checkpoint: the parameter name '{name}' appears twice; names must be unique.", nameof(namedParameters));
            }

            if (name.StartsWith(OptimizerPrefix, StringComparison.Ordinal) || name == SafeTensors.MetadataKey)
            {
                throw new ArgumentException($"Checkpoint: the parameter name '{name}' is reserved ('{OptimizerPrefix}…' holds optimizer state, '{SafeTensors.MetadataKey}' the metadata); rename it.", nameof(namedParameters));
            }

            if (requireLeaves && !parameter.IsLeaf)
            {
                throw new ArgumentException($"Checkpoint.Load: parameter '{name}' is the result of an op, not a leaf, so its Data cannot be replaced; pass the leaf variables.", nameof(namedParameters));
            }
        }

        return parameters;
    }

    private static string Describe(Tensor tensor) => $"{tensor.DType} {tensor.Shape}";
}
