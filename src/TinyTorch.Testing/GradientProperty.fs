namespace TinyTorch.Functional.Testing

open System
open FsCheck
open FsCheck.FSharp
open TinyTorch
open TinyTorch.Functional

/// FsCheck properties that a function's derivatives are right: the library's gradient checker
/// (<c>GradCheck.compareAll</c>, or <c>GradCheck.compareSecondOrder</c>) run on generated inputs, labelled
/// with its report — so a failure names the input index, the element, the analytic and numeric values
/// and the tolerance, and FsCheck shrinks the inputs to a small case.
[<RequireQualifiedAccess>]
module GradientProperty =

    /// A property from a check's result: true when it passed, labelled with its full report.
    let ofResult (result: GradCheckResult) : Property =
        let result = if isNull (box result) then nullArg "result" else result
        result.Passed |> Prop.label (string result)

    /// The first-order checks (finite differences, random direction, adjoint) of <paramref name="f"/> at <paramref name="inputs"/>.
    let check (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : Property =
        ofResult (GradCheck.report options f inputs)

    /// The second-order checks (gradgrad) of <paramref name="f"/> at <paramref name="inputs"/>.
    let checkSecondOrder (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : Property =
        ofResult (GradCheck.reportSecondOrder options f inputs)

    /// For all inputs from <paramref name="inputs"/>, the first-order checks pass with <paramref name="options"/>.
    let forAllWith (options: GradCheckOptions) (inputs: Arbitrary<Tensor[]>) (f: Node[] -> Node) : Property =
        Prop.forAll inputs (check options f)

    /// For all <paramref name="arity"/> tensors of one shared random shape with values from
    /// <paramref name="domain"/>, the gradient of <paramref name="f"/> passes the first-order checks
    /// with the default options (step 1e-6, atol 1e-5, rtol 1e-3).
    let forAll (domain: Domain) (f: Node[] -> Node) (arity: int) : Property =
        forAllWith GradCheckOptions.Default (GradientInputs.SameShape(domain, arity)) f

    /// For all inputs from <paramref name="inputs"/>, the second-order checks pass with <paramref name="options"/>.
    let secondOrderWith (options: GradCheckOptions) (inputs: Arbitrary<Tensor[]>) (f: Node[] -> Node) : Property =
        Prop.forAll inputs (checkSecondOrder options f)

    /// For all <paramref name="arity"/> tensors of one shared random shape with values from
    /// <paramref name="domain"/>, the derivatives of the gradient of <paramref name="f"/> pass the
    /// second-order checks with the default options.
    let secondOrder (domain: Domain) (f: Node[] -> Node) (arity: int) : Property =
        secondOrderWith GradCheckOptions.Default (GradientInputs.SameShape(domain, arity)) f

/// The gradient properties for C# (delegates instead of F# functions). From the C# façade, combine
/// <see cref="GradientInputs"/> with <c>TinyTorch.GradCheck</c> and <see cref="Of"/>:
/// <c>Prop.ForAll(GradientInputs.SameShape(Domain.Any, 2), xs =&gt; GradientProperties.Of(GradCheck.Check(f, xs)))</c>.
[<AbstractClass; Sealed>]
type GradientProperties =
    /// A property from a check's result: true when it passed, labelled with its full report.
    static member Of(result: GradCheckResult) : Property = GradientProperty.ofResult result

    /// For all <paramref name="arity"/> tensors of one shared random shape with values from the domain,
    /// the first-order checks of <paramref name="f"/> pass.
    static member ForAll(f: Func<Node[], Node>, domain: Domain, arity: int) : Property =
        let f = if isNull f then nullArg "f" else f
        GradientProperty.forAll domain f.Invoke arity

    /// For all inputs from <paramref name="inputs"/>, the first-order checks of <paramref name="f"/> pass with <paramref name="options"/>.
    static member ForAll(f: Func<Node[], Node>, inputs: Arbitrary<Tensor[]>, options: GradCheckOptions) : Property =
        let f = if isNull f then nullArg "f" else f
        GradientProperty.forAllWith options inputs f.Invoke

    /// For all <paramref name="arity"/> tensors of one shared random shape with values from the domain,
    /// the second-order checks of <paramref name="f"/> pass.
    static member SecondOrder(f: Func<Node[], Node>, domain: Domain, arity: int) : Property =
        let f = if isNull f then nullArg "f" else f
        GradientProperty.secondOrder domain f.Invoke arity

    /// For all inputs from <paramref name="inputs"/>, the second-order checks of <paramref name="f"/> pass with <paramref name="options"/>.
    static member SecondOrder(f: Func<Node[], Node>, inputs: Arbitrary<Tensor[]>, options: GradCheckOptions) : Property =
        let f = if isNull f then nullArg "f" else f
        GradientProperty.secondOrderWith options inputs f.Invoke
