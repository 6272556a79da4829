using TinyTorch.Functional;

namespace TinyTorch;

public sealed partial class Variable
{
    /// <summary>Elementwise sum with broadcasting.</summary>
    /// <remarks>Python course: <c>__add__</c>.</remarks>
    public static Variable operator +(Variable a, Variable b) => Autograd.Add(a, b);

    /// <summary>Elementwise difference with broadcasting.</summary>
    /// <remarks>Python course: <c>__sub__</c>.</remarks>
    public static Variable operator -(Variable a, Variable b) => Autograd.Subtract(a, b);

    /// <summary>Elementwise product with broadcasting.</summary>
    /// <remarks>Python course: <c>__mul__</c>.</remarks>
    public static Variable operator *(Variable a, Variable b) => Autograd.Multiply(a, b);

    /// <summary>Elementwise quotient with broadcasting.</summary>
    /// <remarks>Python course: <c>__truediv__</c>.</remarks>
    public static Variable operator /(Variable a, Variable b) => Autograd.Divide(a, b);

    /// <summary>Adds a number, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__add__</c> with a float.</remarks>
    public static Variable operator +(Variable a, double b) => FromNode(NotNull(a).node + b);

    /// <summary>Adds a number, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__radd__</c>.</remarks>
    public static Variable operator +(double a, Variable b) => FromNode(a + NotNull(b).node);

    /// <summary>Subtracts a number, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__sub__</c> with a float.</remarks>
    public static Variable operator -(Variable a, double b) => FromNode(NotNull(a).node - b);

    /// <summary>Subtracts from a number, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__rsub__</c>.</remarks>
    public static Variable operator -(double a, Variable b) => FromNode(a - NotNull(b).node);

    /// <summary>Multiplies by a number, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__mul__</c> with a float.</remarks>
    public static Variable operator *(Variable a, double b) => FromNode(NotNull(a).node * b);

    /// <summary>Multiplies by a number, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__rmul__</c>.</remarks>
    public static Variable operator *(double a, Variable b) => FromNode(a * NotNull(b).node);

    /// <summary>Divides by a number, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__truediv__</c> with a float.</remarks>
    public static Variable operator /(Variable a, double b) => FromNode(NotNull(a).node / b);

    /// <summary>Divides a number by each element, kept in the variable's dtype.</summary>
    /// <remarks>Python course: <c>__rtruediv__</c>.</remarks>
    public static Variable operator /(double a, Variable b) => FromNode(a / NotNull(b).node);

    /// <summary>Elementwise negation.</summary>
    /// <remarks>Python course: <c>-x</c> (written <c>multiply(x, -1)</c> there).</remarks>
    public static Variable operator -(Variable x) => FromNode(NodeModule.negate(NotNull(x).node));

    /// <summary>A constant float64 scalar (<c>RequiresGrad</c> false).</summary>
    /// <remarks>Python course: the float operands that <c>add</c> and friends wrap in <c>Variable(x, requires_grad=False)</c>.</remarks>
    public static implicit operator Variable(double value) => new(value, requiresGrad: false);

    private static Variable NotNull(Variable? x, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(x))] string? name = null) =>
        x ?? throw new ArgumentNullException(name);
}
