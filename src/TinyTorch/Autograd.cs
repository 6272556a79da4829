using System.Reflection;
using TinyTorch.Functional;

namespace TinyTorch;

/// <summary>The differentiable ops and gradient utilities of the course, over <see cref="Variable"/>.</summary>
/// <remarks>Every op is one call into the F# core, where its forward and derivative rules live.</remarks>
public static partial class Autograd
{
    /// <summary>Elementwise sum with broadcasting.</summary>
    /// <exception cref="ShapeMismatchException">The shapes do not broadcast.</exception>
    /// <remarks>Python course: <c>add</c>.</remarks>
    public static Variable Add(Variable a, Variable b) => Binary(NodeModule.add, a, b);

    /// <summary>Elementwise difference with broadcasting.</summary>
    /// <exception cref="ShapeMismatchException">The shapes do not broadcast.</exception>
    /// <remarks>Python course: <c>subtract</c>.</remarks>
    public static Variable Subtract(Variable a, Variable b) => Binary(NodeModule.subtract, a, b);

    /// <summary>Elementwise product with broadcasting.</summary>
    /// <exception cref="ShapeMismatchException">The shapes do not broadcast.</exception>
    /// <remarks>Python course: <c>multiply</c>.</remarks>
    public static Variable Multiply(Variable a, Variable b) => Binary(NodeModule.multiply, a, b);

    /// <summary>Elementwise quotient with broadcasting (IEEE semantics: x / 0 is ±inf or NaN).</summary>
    /// <exception cref="ShapeMismatchException">The shapes do not broadcast.</exception>
    /// <remarks>Python course: <c>divide</c>.</remarks>
    public static Variable Divide(Variable a, Variable b) => Binary(NodeModule.divide, a, b);

    /// <summary>max(x, 0); its gradient at 0 is 0.</summary>
    /// <remarks>Python course: <c>relu_with_grad</c>.</remarks>
    public static Variable Relu(Variable x) => Unary(NodeModule.relu, x);

    /// <summary>1 / (1 + e^−x), computed without overflow for any x.</summary>
    /// <remarks>Python course: <c>sigmoid_with_grad</c>.</remarks>
    public static Variable Sigmoid(Variable x) => Unary(NodeModule.sigmoid, x);

    /// <summary>Hyperbolic tangent.</summary>
    /// <remarks>Python course: not in the module (its activations module has <c>Tanh</c>).</remarks>
    public static Variable Tanh(Variable x) => Unary(NodeModule.tanh, x);

    /// <summary>e^x.</summary>
    /// <remarks>Python course: <c>exp</c>.</remarks>
    public static Variable Exp(Variable x) => Unary(NodeModule.exp, x);

    /// <summary>
    /// The natural logarithm of max(x, 1e-8), keeping the course's clamp: <c>Log(0)</c> is ln 1e-8 ≈ −18.42.
    /// The gradient is that of the clamped function: 1/x for x ≥ 1e-8, and 0 below.
    /// </summary>
    /// <remarks>Python course: <c>log</c>.</remarks>
    public static Variable Log(Variable x) => Unary(NodeModule.log, x);

    /// <summary>The sum of all elements, as a scalar (shape []).</summary>
    /// <remarks>Python course: <c>sum_all</c>.</remarks>
    public static Variable SumAll(Variable x) => Unary(NodeModule.sumAll, x);

    /// <summary>The mean of all elements, as a scalar (shape []).</summary>
    /// <remarks>Python course: <c>mean</c>.</remarks>
    public static Variable Mean(Variable x) => Unary(NodeModule.mean, x);

    /// <summary>x raised to a fixed exponent; the gradient of <c>Power(x, 0)</c> is 0.</summary>
    /// <remarks>Python course: <c>power</c>.</remarks>
    public static Variable Power(Variable x, double exponent) => Variable.FromNode(NodeModule.power(exponent, NotNull(x).Node));

    /// <summary>
    /// Scales the gradients of <paramref name="variables"/> in place so that their global L2 norm is at
    /// most <paramref name="maxNorm"/>. The norm is computed in float64 with the largest magnitude
    /// factored out, so it does not overflow. A NaN or infinite norm leaves the gradients unchanged.
    /// </summary>
    /// <returns>The global norm before clipping (0 when no variable has a gradient).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    /// <remarks>Python course: <c>clip_gradients</c>.</remarks>
    public static double ClipGradients(IEnumerable<Variable> variables, double maxNorm = 1.0)
    {
        var withGrad = Distinct(variables).Where(v => v.Grad is not null).ToArray();
        var (clipped, norm) = TensorModule.clipByGlobalNorm(maxNorm, withGrad.Select(v => v.Grad!.Data).ToArray());
        for (var i = 0; i < withGrad.Length; i++)
        {
            // A gradient kept differentiable (Backward(createGraph: true)) is an op result: replace it.
            if (withGrad[i].Grad!.IsLeaf)
            {
                withGrad[i].Grad!.Data = clipped[i];
            }
            else
            {
                withGrad[i].Grad = new Variable(clipped[i], requiresGrad: false);
            }
        }
        return norm;
    }

    /// <summary>
    /// The variables with <c>RequiresGrad</c> among the public instance fields and properties of each
    /// object given (and any <see cref="Variable"/> given directly), each once, in order of discovery.
    /// A <see cref="Nn.Module"/> (given directly, or in such a field or property) contributes its
    /// <see cref="Nn.Module.Parameters"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="modules"/> or one of its elements is null.</exception>
    /// <remarks>Python course: <c>collect_parameters</c>.</remarks>
    public static IReadOnlyList<Variable> CollectParameters(params object[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        var found = new List<Variable>();
        var seen = new HashSet<Variable>(ReferenceEqualityComparer.Instance);
        void Consider(object? value)
        {
            if (value is Variable { RequiresGrad: true } v && seen.Add(v))
            {
                found.Add(v);
            }
            else if (value is Nn.Module m)
            {
                foreach (var p in m.Parameters())
                {
                    Consider(p);
                }
            }
        }
        foreach (var module in modules)
        {
            ArgumentNullException.ThrowIfNull(module, nameof(modules));
            if (module is Variable or Nn.Module)
            {
                Consider(module);
                continue;
            }
            var type = module.GetType();
            foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                Consider(field.GetValue(module));
            }
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.GetIndexParameters().Length == 0 && property.CanRead
                    && (typeof(Variable).IsAssignableFrom(property.PropertyType) || typeof(Nn.Module).IsAssignableFrom(property.PropertyType)))
                {
                    Consider(property.GetValue(module));
                }
            }
        }
        return found;
    }

    /// <summary>Calls <see cref="Variable.ZeroGrad"/> on each variable.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="variables"/> or one of its elements is null.</exception>
    /// <remarks>Python course: <c>zero_gradients</c>.</remarks>
    public static void ZeroGradients(IEnumerable<Variable> variables)
    {
        foreach (var v in Distinct(variables))
        {
            v.ZeroGrad();
        }
    }

    private static Variable[] Distinct(IEnumerable<Variable> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var list = variables.ToArray();
        if (Array.IndexOf(list, null) is var i and >= 0)
        {
            throw new ArgumentNullException(nameof(variables), $"element {i} of the variables is null.");
        }
        return list.Distinct(ReferenceEqualityComparer.Instance).Cast<Variable>().ToArray();
    }

    private static Variable Unary(Func<Node, Node> op, Variable x) => Variable.FromNode(op(NotNull(x).Node));

    private static Variable Binary(Func<Node, Node, Node> op, Variable a, Variable b) =>
        Variable.FromNode(op(NotNull(a).Node, NotNull(b).Node));

    private static Variable NotNull(Variable? x, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(x))] string? name = null) =>
        x ?? throw new ArgumentNullException(name);
}
