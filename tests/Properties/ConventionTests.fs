/// Exact-value tests of the conventions at kinks and extremes, deep graphs, and the gradient
/// checker catching a wrong gradient.
module TinyTorch.Properties.ConventionTests

open System
open Xunit
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Properties.Generators

let private both = [ DType.Float32; DType.Float64 ]

/// The gradient of sum(f x) with respect to x, for x given as values in a dtype.
let private gradient (dtype: DType) (f: Node -> Node) (values: float[]) : Tensor * Tensor =
    let x = Node.leaf (Tensor.cast dtype (Tensor.FromArray(values, values.Length)))
    let y = f x
    let grads = Reverse.gradients (Node.sumAll y)
    y.Value, grads[x].Value

/// The same for a 0-d input (the kernels' one-element path).
let private scalarGradient (dtype: DType) (f: Node -> Node) (value: float) : float * float =
    let x = Node.leaf (Tensor.Scalar(value, dtype))
    let y = f x
    let grads = Reverse.gradients (Node.sumAll y)
    y.Value.Item(), grads[x].Value.Item()

/// |actual − expected| ≤ rtol·|expected|, with both printed to 17 digits on failure.
let private assertRelative (rtol: float) (expected: float) (actual: float) (what: string) =
    let message = sprintf "%s: %.17g, expected %.17g" what actual expected
    Assert.True(abs (actual - expected) <= rtol * abs expected, message)

let private noNaN (t: Tensor) = t.ToArray() |> Array.forall (fun v -> not (Double.IsNaN v))

[<Fact>]
let ``relu has derivative 0 at 0 and below 0, 1 above, in both dtypes and both kernel paths`` () =
    // relu'(0) = 0 (PyTorch and JAX), relu'(x < 0) = 0, relu'(x > 0) = 1.
    for dtype in both do
        let value, grad = gradient dtype Node.relu [| -2.0; -1e-300; 0.0; 1e-300; 3.0 |]
        // 1e-300 is 0 in float32 (so relu'(0) = 0 again), a tiny positive number in float64.
        let tiny, tinySlope = if dtype = DType.Float32 then 0.0, 0.0 else 1e-300, 1.0
        Assert.Equal<float[]>([| 0.0; 0.0; 0.0; tiny; 3.0 |], value.ToArray())
        Assert.Equal<float[]>([| 0.0; 0.0; 0.0; tinySlope; 1.0 |], grad.ToArray())

        for x, expected in [ 0.0, 0.0; -0.5, 0.0; 0.5, 1.0 ] do
            Assert.Equal(expected, snd (scalarGradient dtype Node.relu x))

[<Fact>]
let ``clampMin passes the gradient at the bound and blocks it below`` () =
    // max(x, 1): gradient 1 where x >= 1 (at the bound included, as PyTorch's clamp), 0 below.
    for dtype in both do
        let value, grad = gradient dtype (Node.clampMin 1.0) [| 0.0; 0.999; 1.0; 1.5 |]
        Assert.Equal<float[]>([| 1.0; 1.0; 1.0; 1.5 |], value.ToArray())
        Assert.Equal<float[]>([| 0.0; 0.0; 1.0; 1.0 |], grad.ToArray())
        Assert.Equal(1.0, snd (scalarGradient dtype (Node.clampMin 1.0) 1.0))
        Assert.Equal(0.0, snd (scalarGradient dtype (Node.clampMin 1.0) 0.5))

[<Fact>]
let ``log of 0 is ln 1e-8 and its gradient below the clamp is 0`` () =
    // log x = ln(max(x, 1e-8)): log 0 = log(-1) = ln 1e-8 ≈ -18.42 with gradient 0; above the clamp 1/x.
    let (v64, g64) = gradient DType.Float64 Node.log [| 0.0; -1.0; 1e-9; 2.0 |]
    Assert.Equal<float[]>([| log 1e-8; log 1e-8; log 1e-8; log 2.0 |], v64.ToArray())
    Assert.Equal<float[]>([| 0.0; 0.0; 0.0; 0.5 |], g64.ToArray())
    let (s64, sg64) = scalarGradient DType.Float64 Node.log 0.0
    Assert.Equal(log 1e-8, s64)
    Assert.Equal(0.0, sg64)

    let (v32, g32) = gradient DType.Float32 Node.log [| 0.0; -1.0; 2.0 |]
    Assert.All(v32.ToArray()[0..1], fun v -> Assert.Equal(log 1e-8, v, 4))
    Assert.Equal<float[]>([| 0.0; 0.0; 0.5 |], g32.ToArray())
    let (s32, sg32) = scalarGradient DType.Float32 Node.log 0.0
    Assert.Equal(log 1e-8, s32, 4)
    Assert.Equal(0.0, sg32)

[<Fact>]
let ``log at exactly the clamp passes the gradient 1e8`` () =
    let (_, g) = scalarGradient DType.Float64 Node.log 1e-8
    Assert.Equal(1e8, g, 6)

[<Fact>]
let ``x to the power 0 has derivative 0 at 0 and at 2`` () =
    for dtype in both do
        let value, grad = gradient dtype (Node.power 0.0) [| 0.0; 2.0 |]
        Assert.Equal<float[]>([| 1.0; 1.0 |], value.ToArray())
        Assert.Equal<float[]>([| 0.0; 0.0 |], grad.ToArray())

        for x in [ 0.0; 2.0 ] do
            Assert.Equal((1.0, 0.0), scalarGradient dtype (Node.power 0.0) x)

[<Fact>]
let ``sigmoid saturates at plus and minus 1000 with gradient 0 and no NaN`` () =
    for dtype in both do
        let value, grad = gradient dtype Node.sigmoid [| -1000.0; 0.0; 1000.0 |]
        Assert.True(noNaN value && noNaN grad, sprintf "%O: value %O grad %O" dtype value grad)
        Assert.Equal<float[]>([| 0.0; 0.5; 1.0 |], value.ToArray())
        Assert.Equal<float[]>([| 0.0; 0.25; 0.0 |], grad.ToArray())

        for x, expectedValue, expectedGrad in [ -1000.0, 0.0, 0.0; 0.0, 0.5, 0.25; 1000.0, 1.0, 0.0 ] do
            Assert.Equal((expectedValue, expectedGrad), scalarGradient dtype Node.sigmoid x)

[<Fact>]
let ``divide gradient at a = b = 1e200 is finite`` () =
    // d(a/b)/da = 1/b = 1e-200 and d(a/b)/db = -a/b^2 = -1e-200; b^2 would overflow.
    let a = Node.leaf (Tensor 1e200)
    let b = Node.leaf (Tensor 1e200)
    let grads = Reverse.gradients (a / b)
    Assert.Equal(1e-200, grads[a].Value.Item())
    Assert.Equal(-1e-200, grads[b].Value.Item())

    let av = Node.leaf (Tensor [| 1e200; 1e200 |])
    let bv = Node.leaf (Tensor [| 1e200; 1e200 |])
    let gv = Reverse.gradients (Node.sumAll (av / bv))
    Assert.Equal<float[]>([| 1e-200; 1e-200 |], gv[av].Value.ToArray())
    Assert.Equal<float[]>([| -1e-200; -1e-200 |], gv[bv].Value.ToArray())

[<Fact>]
let ``a million-node chain backpropagates without stack overflow, and forward mode agrees`` () =
    // y = y * 1.0000001 + 0.0, 500,000 times: two nodes per step, dy/dx = 1.0000001^500000.
    let x = Node.leaf (Tensor 1.0)
    let mutable y = x

    for _ in 1..500_000 do
        y <- y * 1.0000001 + 0.0

    let expected = Math.Pow(1.0000001, 500_000.0)
    Assert.Equal(1_000_001, (Reverse.topologicalOrder y).Count)
    let reverse = (Reverse.gradients y).[x].Value.Item()
    let forward = (Forward.tangent [ x, Tensor 1.0 ] y).Item()
    // 500,000 roundings of about 1.1e-16 each: relative error at most 6e-11.
    assertRelative 1e-9 expected reverse "reverse"
    assertRelative 1e-9 expected forward "forward"
    assertRelative 1e-12 reverse forward "forward against reverse"

[<Fact>]
let ``a 40-level graph with three uses per level gives 1.5^40 in linear time`` () =
    // y <- y*y*0.5 + y*0.5 keeps y = 1 and has derivative y + 0.5 = 1.5 per level: 3^40 paths,
    // so only a pass that runs each VJP once finishes.
    let x = Node.leaf (Tensor 1.0)
    let mutable y = x

    for _ in 1..40 do
        y <- y * y * 0.5 + y * 0.5

    Assert.Equal(1.0, (y.Value.Item()))
    let expected = Math.Pow(1.5, 40.0)
    let reverse = (Reverse.gradients y).[x].Value.Item()
    let forward = (Forward.tangent [ x, Tensor 1.0 ] y).Item()
    assertRelative 1e-12 expected reverse "reverse"
    assertRelative 1e-12 expected forward "forward"

// ---------------------------------------------------------------------------------------------
// The gradient checker catches a wrong gradient. A wrong rule cannot be injected through the
// public API, so the function detaches one path: f x = x * detach x has the value x^2 (so the
// differences see 2x) but the engine only differentiates the first factor (analytic x).

let private halfDetachedSquare (xs: Node[]) = Node.sumAll (xs[0] * Node.detach xs[0])

[<Fact>]
let ``GradCheck.compare reports every element of a gradient broken by detach`` () =
    let input = Tensor.FromArray([| 0.5; -1.5; 2.0 |], 3)
    let mismatches = GradCheck.compare GradCheckOptions.Default halfDetachedSquare [| input |]
    Assert.Equal(3, mismatches.Length)

    for m, x in List.zip mismatches [ 0.5; -1.5; 2.0 ] do
        Assert.Equal("finite-difference", m.Check)
        Assert.Equal(0, m.Input)
        Assert.Equal(x, m.Analytic, 12)
        Assert.Equal(2.0 * x, m.Reference, 6)

[<Fact>]
let ``GradCheck.assertCorrect throws GradientCheckException for a gradient broken by detach`` () =
    let input = Tensor.FromArray([| 0.5; -1.5; 2.0 |], 3)
    Assert.False(GradCheck.check GradCheckOptions.Default halfDetachedSquare [| input |])
    let e =
        Assert.Throws<GradientCheckException>(fun () ->
            GradCheck.assertCorrect GradCheckOptions.Default halfDetachedSquare [| input |])
    Assert.NotEmpty e.Mismatches
    Assert.Contains("finite-difference", e.Message)

[<Fact>]
let ``GradCheck passes the same function without detach`` () =
    // The control: x * x is checked correct, so the failures above come from the detach.
    let input = Tensor.FromArray([| 0.5; -1.5; 2.0 |], 3)
    let f (xs: Node[]) = Node.sumAll (xs[0] * xs[0])
    Assert.Empty(GradCheck.compare GradCheckOptions.Default f [| input |])
    GradCheck.assertCorrect GradCheckOptions.Default f [| input |]
