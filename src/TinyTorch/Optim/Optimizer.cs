using TinyTorch.Functional;
using OptimCore = TinyTorch.Functional.Optim;

namespace TinyTorch.Optim;

/// <summary>
/// The base of optimizers: holds the parameters and the learning rate, and updates each parameter that has a
/// gradient by replacing its <see cref="Variable.Data"/> (a new leaf value: no graph node is ever recorded).
/// </summary>
/// <remarks>
/// PyTorch: <c>torch.optim.Optimizer</c> (one parameter group). A step is all or nothing: every new value and
/// state is computed first and only then stored, so an exception leaves all parameters and state unchanged.
/// Not thread-safe: use an optimizer (and its parameters) from one thread at a time.
/// </remarks>
public abstract class Optimizer
{
    private readonly Variable[] parameters;

    /// <summary>An optimizer over <paramref name="parameters"/> (each kept once, in order) with learning rate <paramref name="lr"/>.</summary>
    /// <param name="parameters">Leaves that require grad, e.g. <see cref="Nn.Module.Parameters"/>.</param>
    /// <param name="lr">The learning rate, finite and ≥ 0.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">The list is empty, or holds a variable that is not a leaf requiring grad.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lr"/> is negative or not finite.</exception>
    /// <remarks>PyTorch: <c>torch.optim.Optimizer(params, defaults)</c>.</remarks>
    protected Optimizer(IEnumerable<Variable> parameters, double lr)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.ToArray();
        for (var i = 0; i < list.Length; i++)
        {
            if (list[i] is null)
            {
                throw new ArgumentNullException(nameof(parameters), $"{GetType().Name}: parameter {i} is null.");
            }
            if (!list[i].IsLeaf || !list[i].RequiresGrad)
            {
                throw new ArgumentException(
                    $"{GetType().Name}: parameter {i} (shape {list[i].Shape}) is not a leaf that requires grad, so it cannot be optimized; pass the model's parameters, not results of ops or constants.",
                    nameof(parameters));
            }
        }
        if (list.Length == 0)
        {
            throw new ArgumentException($"{GetType().Name}: the parameter list is empty; pass the model's parameters (e.g. model.Parameters()).", nameof(parameters));
        }
        OptimCore.validateLearningRate(GetType().Name, lr);
        this.parameters = list.Distinct(ReferenceEqualityComparer.Instance).Cast<Variable>().ToArray();
        LearningRate = lr;
    }

    /// <summary>The parameters this optimizer updates, each once.</summary>
    /// <remarks>PyTorch: <c>optimizer.param_groups[0]['params']</c>.</remarks>
    public IReadOnlyList<Variable> Parameters => parameters;

    /// <summary>The learning rate used by the next <see cref="Step"/> (schedulers set it).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative or non-finite value.</exception>
    /// <remarks>PyTorch: <c>optimizer.param_groups[0]['lr']</c>.</remarks>
    public double LearningRate
    {
        get;
        set
        {
            OptimCore.validateLearningRate(GetType().Name, value);
            field = value;
        }
    }

    /// <summary>
    /// Updates every parameter whose <see cref="Variable.Grad"/> is not null (the others, and their state, are left
    /// alone). All or nothing: every update is computed before any is stored.
    /// </summary>
    /// <exception cref="ShapeMismatchException">A gradient or state no longer has its parameter's shape (the parameter's data was replaced with another shape).</exception>
    /// <remarks>PyTorch: <c>optimizer.step()</c>.</remarks>
    public void Step()
    {
        var commits = parameters.Where(p => p.Grad is not null).Select(p => Prepare(p, p.Grad!.Data)).ToArray();
        foreach (var commit in commits)
        {
            commit();
        }
    }

    /// <summary>
    /// Computes, without storing anything, the update of one parameter from its gradient, and returns the action
    /// that stores it (the new <see cref="Variable.Data"/> and the optimizer's state for that parameter).
    /// </summary>
    /// <param name="parameter">A parameter with a gradient.</param>
    /// <param name="gradient">Its gradient's value.</param>
    /// <returns>The action that commits the update; <see cref="Step"/> runs it once every update has been computed.</returns>
    /// <remarks>PyTorch: the body of <c>step()</c> for one parameter.</remarks>
    protected abstract Action Prepare(Variable parameter, Tensor gradient);

    /// <summary>
    /// The optimizer's per-parameter state as named tensors, for checkpoints: <c>{index}.{name}</c> with the parameter's
    /// position in <see cref="Parameters"/> (e.g. <c>0.exp_avg</c>, <c>0.step</c>), as PyTorch's <c>state_dict()["state"]</c>.
    /// </summary>
    /// <returns>A snapshot; later steps do not change it.</returns>
    /// <remarks>PyTorch: <c>optimizer.state_dict()</c>.</remarks>
    public IReadOnlyDictionary<string, Tensor> StateTensors()
    {
        var result = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        for (var i = 0; i < parameters.Length; i++)
        {
            foreach (var (name, tensor) in StateOf(parameters[i]))
            {
                result[$"{i}.{name}"] = tensor;
            }
        }
        return result;
    }

    /// <summary>
    /// Restores state saved by <see cref="StateTensors"/>. Everything is validated first (known names, parameter
    /// indices in range, shapes equal to the parameters'); on any error nothing changes.
    /// </summary>
    /// <param name="state">Named state tensors, as <see cref="StateTensors"/> returns them.</param>
    /// <exception cref="ArgumentException">An unknown name, an index out of range, or a tensor whose shape does not fit.</exception>
    /// <remarks>PyTorch: <c>optimizer.load_state_dict()</c>.</remarks>
    public void LoadStateTensors(IReadOnlyDictionary<string, Tensor> state) => PrepareLoadState(state)();

    /// <summary>Validates saved state and returns the action that stores it (used by checkpoints to load parameters and state together).</summary>
    internal Action PrepareLoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var byParameter = new Dictionary<int, Dictionary<string, Tensor>>();
        foreach (var (key, tensor) in state)
        {
            var dot = key.IndexOf('.');
            if (dot <= 0 || !int.TryParse(key.AsSpan(0, dot), out var index) || index < 0 || index >= parameters.Length)
            {
                throw new ArgumentException($"{GetType().Name}: state entry '{key}' does not name a parameter index in 0..{parameters.Length - 1}.", nameof(state));
            }
            (byParameter.TryGetValue(index, out var entries) ? entries : byParameter[index] = new Dictionary<string, Tensor>())[key[(dot + 1)..]] = tensor;
        }
        var commits = byParameter.Select(entry => RestoreState(parameters[entry.Key], entry.Value)).ToArray();
        return () =>
        {
            foreach (var commit in commits)
            {
                commit();
            }
        };
    }

    /// <summary>The state kept for one parameter, by PyTorch's names (none by default).</summary>
    /// <param name="parameter">One of <see cref="Parameters"/>.</param>
    /// <returns>Its state tensors.</returns>
    protected virtual IEnumerable<(string Name, Tensor Value)> StateOf(Variable parameter) => [];

    /// <summary>Validates one parameter's saved state and returns the action that stores it.</summary>
    /// <param name="parameter">One of <see cref="Parameters"/>.</param>
    /// <param name="entries">Its saved state tensors by name.</param>
    /// <returns>The action that stores the state.</returns>
    /// <exception cref="ArgumentException">The entries do not fit this optimizer or the parameter.</exception>
    protected virtual Action RestoreState(Variable parameter, IReadOnlyDictionary<string, Tensor> entries) =>
        entries.Count == 0 ? () => { } : throw new ArgumentException($"{GetType().Name} keeps no state, but the saved state has [{string.Join(", ", entries.Keys)}].");

    /// <summary>Throws unless <paramref name="tensor"/> has the parameter's shape.</summary>
    /// <param name="parameter">The parameter.</param>
    /// <param name="name">The state entry's name, for the message.</param>
    /// <param name="tensor">The saved tensor.</param>
    /// <returns>The tensor.</returns>
    protected Tensor MatchingShape(Variable parameter, string name, Tensor tensor) =>
        tensor.Shape.Equals(parameter.Shape)
            ? TensorModule.cast(parameter.DType, tensor)
            : throw new ArgumentException($"{GetType().Name}: state '{name}' has shape {tensor.Shape} but its parameter has shape {parameter.Shape}.");

    /// <summary>Clears the gradient of every parameter: to null by default, to zeros when <paramref name="setToNone"/> is false.</summary>
    /// <param name="setToNone">True (PyTorch's default) to set each gradient to null, so the next step skips parameters no backward pass reached; false for zeros.</param>
    /// <remarks>PyTorch: <c>optimizer.zero_grad(set_to_none=True)</c>.</remarks>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var parameter in parameters)
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
}
