/// Tests of the public testing toolkit (TinyTorch.Testing): the generators stay in their domains,
/// the shrinkers keep every candidate valid, the gradient properties catch wrong first- and
/// second-order derivatives with a shrunk, readable counterexample, and pass correct code.
module TinyTorch.TestingToolkitTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Functional.Testing

// ---- helpers ---------------------------------------------------------------------------------

let private domains =
    [ Domain.Any
      Domain.Positive
      Domain.AwayFromZero 0.1
      Domain.AwayFromZero 2.5
      Domain.Interval(-1.0, 2.0)
      Domain.Interval(0.25, 0.75)
      Domain.Interval(5.5, 6.5) ]

let private domainGen = Gen.elements domains

let private inDomain (domain: Domain) (t: Tensor) = t.ToArray() |> Array.forall domain.Contains

let private validShape (s: Shape) = s.Rank <= 4 && Seq.forall (fun d -> d >= 1 && d <= 4) s

let private compatible (a: Shape) (b: Shape) =
    try
        Shape.broadcast "test" a b |> ignore
        true
    with :? ShapeMismatchException -> false

/// x ↦ x² as a user-defined op whose VJP forgets the factor 2 (the JVP is right).
let private squareMissingTwo =
    CustomOp(
        "square_missing_two",
        Func<Tensor[], Tensor>(fun v -> v[0] * v[0]),
        Func<Node[], Node, Node, Node[]>(fun x _ g -> [| g * x[0] |]),
        Func<Node[], Node, Node[], Node>(fun x _ t -> if isNull t[0] then null else t[0] * x[0] * 2.0)
    )

/// x ↦ x² with a VJP that is right to first order but written with detach, so its own derivative
/// with respect to x is lost (second order wrong).
let private squareDetachedInput =
    CustomOp(
        "square_detached_input",
        Func<Tensor[], Tensor>(fun v -> v[0] * v[0]),
        Func<Node[], Node, Node, Node[]>(fun x _ g -> [| g * Node.detach x[0] * 2.0 |]),
        Func<Node[], Node, Node[], Node>(fun x _ t -> if isNull t[0] then null else t[0] * x[0] * 2.0)
    )

/// x ↦ x² with a VJP that detaches the incoming cotangent: right to first order, but not linear in
/// the cotangent as far as differentiation can see.
let private squareDetachedCotangent =
    CustomOp(
        "square_detached_cotangent",
        Func<Tensor[], Tensor>(fun v -> v[0] * v[0]),
        Func<Node[], Node, Node, Node[]>(fun x _ g -> [| Node.detach g * x[0] * 2.0 |]),
        Func<Node[], Node, Node[], Node>(fun x _ t -> if isNull t[0] then null else t[0] * x[0] * 2.0)
    )

/// A correct square with no JVP at all (forward mode cannot pass through it).
let private squareWithoutJvp =
    CustomOp(
        "square_without_jvp",
        Func<Tensor[], Tensor>(fun v -> v[0] * v[0]),
        Func<Node[], Node, Node, Node[]>(fun x _ g -> [| g * x[0] * 2.0 |]),
        null
    )

let private applied (op: CustomOp) (xs: Node[]) = Node.sumAll (Node.custom op [| xs[0] |])

let private tanhSin (xs: Node[]) = Node.sumAll (Node.tanh xs[0] * Node.sin xs[1])

let private quick (maxTest: int) = Config.QuickThrowOnFailure.WithMaxTest(maxTest)

/// FsCheck's failure text, from a property that must fail.
let private failureOf (maxTest: int) (property: Property) : string =
    let e = Assert.ThrowsAny<exn>(fun () -> Check.One(quick maxTest, property))
    e.Message

// ---- shapes and shape pairs --------------------------------------------------------------------

[<Property(Arbitrary = [| typeof<Arbitraries> |], MaxTest = 300)>]
let ``generated shapes have rank 0-4 and dimensions 1-4`` (s: Shape) = validShape s

[<Property(Arbitrary = [| typeof<Arbitraries> |], MaxTest = 300)>]
let ``shape shrinks are valid and strictly smaller`` (s: Shape) =
    Shrink.shape s
    |> Seq.forall (fun c -> validShape c && (c.Rank < s.Rank || c.Size < s.Size))

[<Property(Arbitrary = [| typeof<Arbitraries> |], MaxTest = 300)>]
let ``broadcast pairs broadcast and every shrink still does`` (p: BroadcastPair) =
    let ok =
        compatible p.Left p.Right
        && validShape p.Left
        && validShape p.Right
        && Shrink.broadcastPair p |> Seq.forall (fun c -> compatible c.Left c.Right)

    ok |> Prop.label (string p)

[<Property(Arbitrary = [| typeof<Arbitraries> |], MaxTest = 300)>]
let ``incompatible pairs are rejected and every shrink still is`` (p: IncompatiblePair) =
    let ok =
        not (compatible p.Left p.Right)
        && Shrink.incompatiblePair p |> Seq.forall (fun c -> not (compatible c.Left c.Right))

    ok |> Prop.label (string p)

[<Fact>]
let ``shrinking a broadcast pair reaches a minimal pair`` () =
    // Property "some shape has rank ≥ 2" must fail and shrink to the smallest such pair.
    let property (p: BroadcastPair) = p.Left.Rank < 2 && p.Right.Rank < 2
    let config = (quick 200).WithArbitrary([ typeof<Arbitraries> ])
    let e = Assert.ThrowsAny<exn>(fun () -> Check.One(config, property))
    Assert.Contains("Falsifiable", e.Message)
    // The only pair from which no shrink still fails: one shape [1, 1], the other a scalar. The
    // last block is the shrunk pair, or the original one when it was minimal already (0 shrinks).
    let last = e.Message.Substring(max (e.Message.LastIndexOf "Shrunk:") (e.Message.LastIndexOf "Original:"))
    Assert.Matches(@"^(Shrunk|Original):\s*(\[1, 1\] with \[\]|\[\] with \[1, 1\])", last)

// ---- values and tensors ------------------------------------------------------------------------

[<Fact>]
let ``every domain's values stay in the domain`` () =
    for domain in domains do
        let xs = Gen.sampleWithSize 10 500 (Generators.value domain)
        Assert.All(xs, fun x -> Assert.True(domain.Contains x, sprintf "%g is outside %O" x domain))
        Assert.True(domain.Contains domain.Simplest, sprintf "the simplest value of %O is outside it" domain)

[<Fact>]
let ``values away from zero keep the margin and take both signs`` () =
    let xs = Gen.sampleWithSize 10 500 (Generators.value (Domain.AwayFromZero 0.5))
    Assert.All(xs, fun x -> Assert.True(abs x >= 0.5))
    Assert.Contains(xs, fun x -> x < 0.0)
    Assert.Contains(xs, fun x -> x > 0.0)

[<Fact>]
let ``empty or infinite domains are rejected`` () =
    Assert.Throws<ArgumentException>(fun () -> Generators.value (Domain.Interval(2.0, 1.0)) |> ignore) |> ignore
    Assert.Throws<ArgumentException>(fun () -> Generators.value (Domain.AwayFromZero 0.0) |> ignore) |> ignore
    Assert.Throws<ArgumentException>(fun () -> Generators.value (Domain.Interval(0.0, infinity)) |> ignore) |> ignore

[<Property(MaxTest = 300)>]
let ``value shrinks stay in the domain, get simpler and terminate`` () =
    let pairs = gen {
        let! d = domainGen
        let! x = Generators.value d
        return d, x
    }

    Prop.forAll (Arb.fromGen pairs) (fun (domain, x) ->
        // Follow the first candidate as FsCheck would when every candidate keeps failing.
        let rec chain (x: float) (steps: int) =
            match Seq.tryHead (Shrink.value domain x) with
            | Some c when steps < 100 -> domain.Contains c && chain c (steps + 1)
            | Some _ -> false
            | None -> true

        ((Shrink.value domain x |> Seq.forall domain.Contains) && chain x 0)
        |> Prop.label (sprintf "%O, x = %g" domain x))

[<Property(MaxTest = 200)>]
let ``tensors stay in the domain and their shrinks keep shape rules and domain`` () =
    let pairs = gen {
        let! d = domainGen
        let! t = Generators.tensor d
        return d, t
    }

    Prop.forAll (Arb.fromGen pairs) (fun (domain, t) ->
        let originals = set (t.ToArray())

        let shrinksValid =
            Shrink.tensor domain t
            |> Seq.forall (fun c ->
                validShape c.Shape
                && inDomain domain c
                && (c.Shape.Equals t.Shape || Array.forall originals.Contains (c.ToArray())))

        (t.DType = DType.Float64 && validShape t.Shape && inDomain domain t && shrinksValid)
        |> Prop.label (sprintf "%O, %O" domain t))

[<Fact>]
let ``restrict keeps index 0 along dropped and unit dimensions`` () =
    // t[i, j] = 10 i + j for a [2, 3] tensor.
    let t = Tensor.FromArray([| 0.0; 1.0; 2.0; 10.0; 11.0; 12.0 |], 2, 3)
    Assert.Equal<float[]>([| 0.0; 1.0; 2.0 |], (Shrink.restrict t (Shape.Of 3)).ToArray())
    Assert.Equal<float[]>([| 0.0; 10.0 |], (Shrink.restrict t (Shape.Of(2, 1))).ToArray())
    Assert.Equal<float[]>([| 0.0 |], (Shrink.restrict t Shape.Scalar).ToArray())

[<Property(MaxTest = 200)>]
let ``same-shape inputs share one shape, and so do their shrinks`` () =
    let cases = gen {
        let! d = domainGen
        let! arity = Gen.choose (1, 3)
        let! xs = Generators.inputs d arity
        return d, arity, xs
    }

    let sameShape (xs: Tensor[]) = xs |> Array.forall (fun x -> x.Shape.Equals xs[0].Shape)

    Prop.forAll (Arb.fromGen cases) (fun (domain, arity, xs) ->
        xs.Length = arity
        && sameShape xs
        && Array.forall (inDomain domain) xs
        && Shrink.inputs domain xs |> Seq.forall (fun c -> c.Length = arity && sameShape c && Array.forall (inDomain domain) c))

[<Property(MaxTest = 200)>]
let ``broadcast inputs broadcast, and so do their shrinks`` () =
    let cases = gen {
        let! d = domainGen
        let! xs = Generators.broadcastInputs d
        return d, xs
    }

    Prop.forAll (Arb.fromGen cases) (fun (domain, xs) ->
        let ok (xs: Tensor[]) = xs.Length = 2 && compatible xs[0].Shape xs[1].Shape && Array.forall (inDomain domain) xs
        ok xs && Shrink.broadcastInputs domain xs |> Seq.forall ok)

[<Fact>]
let ``inputs of fixed shapes keep their shapes when shrunk`` () =
    let shapes = [| Shape.Of(2, 3); Shape.Of(3, 4) |]
    let xs = Gen.sampleWithSize 10 1 (Generators.inputsOfShapes Domain.Any shapes) |> Array.head
    Assert.Equal<Shape[]>(shapes, xs |> Array.map (fun x -> x.Shape))
    Assert.All(Shrink.inputsOfShapes Domain.Any xs, fun c -> Assert.Equal<Shape[]>(shapes, c |> Array.map (fun x -> x.Shape)))

// ---- gradient properties -----------------------------------------------------------------------

[<Fact>]
let ``a correct function passes the gradient property`` () =
    Check.One(quick 60, GradientProperty.forAll Domain.Any tanhSin 2)
    Check.One(quick 60, GradientProperty.forAll Domain.Positive (fun xs -> Node.sumAll (Node.log xs[0] * Node.sqrt xs[0])) 1)
    Check.One(quick 60, GradientProperty.forAllWith GradCheckOptions.Default (GradientInputs.Broadcast Domain.Any) (fun xs -> Node.sumAll (xs[0] * Node.exp xs[1])))

[<Fact>]
let ``a wrong custom gradient is caught and reported with input, element, values and tolerance`` () =
    let message = failureOf 100 (GradientProperty.forAll Domain.Any (applied squareMissingTwo) 1)
    Assert.Contains("Falsifiable", message)
    Assert.Contains("finite-difference check failed at input 0", message)
    Assert.Contains("element 0", message)
    Assert.Matches(@"analytic -?[0-9.]+([eE][-+]?\d+)?, numeric -?[0-9.]+", message)
    Assert.Contains("atol 1e-05", message)
    Assert.Contains("rtol 0.001", message)
    Assert.Contains("step 1e-06", message)

[<Fact>]
let ``the counterexample for a wrong custom gradient shrinks to one simple scalar`` () =
    let message = failureOf 100 (GradientProperty.forAll Domain.Any (applied squareMissingTwo) 1)
    // The shrunk (or, when the first failure was already minimal, the original) inputs: a single
    // scalar tensor with a simple value; the label names analytic x against numeric 2x.
    let counterexample =
        let i = message.IndexOf(if message.Contains "Shrunk:" then "Shrunk:" else "Original:")
        message.Substring i

    Assert.Matches(@"^(Shrunk|Original):\s*\[\|Tensor\(-?[0-9.]+\)\|\]", counterexample)
    if message.Contains "Shrunk:" then
        // Every value shrinks to 1 (−1 is as simple and stays), where the VJP gives x and the differences 2x.
        Assert.Matches(@"Shrunk:\s*\[\|Tensor\(-?1\)\|\]", message)
        Assert.Matches(@"analytic -?1, numeric -?2,", message)

[<Fact>]
let ``the C# flavoured property helpers catch the same bug`` () =
    let message = failureOf 50 (GradientProperties.ForAll(Func<Node[], Node>(applied squareMissingTwo), Domain.Any, 1))
    Assert.Contains("input 0", message)

[<Fact>]
let ``a custom op without a JVP is checked without the adjoint identity`` () =
    let x = Tensor.FromArray([| 0.5; -1.5; 2.0 |], 3)
    Assert.Empty(GradCheck.compareAll GradCheckOptions.Default (applied squareWithoutJvp) [| x |])
    Check.One(quick 30, GradientProperty.forAll Domain.Any (applied squareWithoutJvp) 1)

// ---- second order -------------------------------------------------------------------------------

[<Fact>]
let ``second-order checks pass for tanh and sin compositions`` () =
    let x = Tensor.FromArray([| 0.3; -1.2; 2.0 |], 3)
    let y = Tensor.FromArray([| 1.1; 0.4; -0.7 |], 3)
    Assert.Empty(GradCheck.compareSecondOrder GradCheckOptions.Default tanhSin [| x; y |])
    Assert.True(GradCheck.checkSecondOrder GradCheckOptions.Default (fun xs -> Node.tanh (Node.sin xs[0] * xs[1])) [| x; y |])
    Check.One(quick 40, GradientProperty.secondOrder Domain.Any tanhSin 2)
    Check.One(quick 40, GradientProperty.secondOrder Domain.Any (fun xs -> Node.sin (Node.tanh xs[0] * xs[0])) 1)

[<Fact>]
let ``a VJP written with detach passes first order but fails second order`` () =
    let x = Tensor.FromArray([| 0.5; -1.5; 2.0 |], 3)
    let f = applied squareDetachedInput
    Assert.Empty(GradCheck.compareAll GradCheckOptions.Default f [| x |])
    let result = GradCheck.reportSecondOrder GradCheckOptions.Default f [| x |]
    Assert.False result.Passed
    Assert.Equal(2, result.Order)
    let m = result.Mismatches |> Seq.find (fun m -> m.Check = "second-order finite-difference")
    Assert.Equal(0, m.Input)
    // d/dx of the VJP: the engine sees 0, the differences see 2·v.
    Assert.Equal(0.0, m.Analytic)
    Assert.NotEqual(0.0, m.Reference)
    let text = string result
    Assert.Contains("second-order finite-difference check failed at input 0 (shape [3]), element", text)
    Assert.Contains("atol 1e-05", text)
    let e = Assert.Throws<GradientCheckException>(fun () -> GradCheck.assertSecondOrder GradCheckOptions.Default f [| x |])
    Assert.NotEmpty e.Mismatches
    Assert.Contains("step 1e-06", e.Message)

[<Fact>]
let ``a VJP that detaches its cotangent fails second order at the cotangent`` () =
    let x = Tensor.FromArray([| 0.5; -1.5 |], 2)
    let f (xs: Node[]) = Node.custom squareDetachedCotangent [| xs[0] |]
    Assert.Empty(GradCheck.compareAll GradCheckOptions.Default f [| x |])
    let result = GradCheck.reportSecondOrder GradCheckOptions.Default f [| x |]
    Assert.False result.Passed
    Assert.Contains(result.Mismatches, fun m -> m.Input = 1)
    Assert.Contains("the output cotangent v", string result)

[<Fact>]
let ``the second-order property catches the detached VJP with a shrunk counterexample`` () =
    let message = failureOf 50 (GradientProperty.secondOrder Domain.Any (applied squareDetachedInput) 1)
    Assert.Contains("Falsifiable", message)
    Assert.Contains("second-order", message)
    Assert.Contains("input 0", message)
    Assert.Contains("analytic 0", message)

[<Fact>]
let ``a passing result reports the rule it passed`` () =
    let x = Tensor.FromArray([| 0.5; -1.5 |], 2)
    let result = GradCheck.report GradCheckOptions.Default tanhSin [| x; x |]
    Assert.True result.Passed
    Assert.Empty result.Mismatches
    Assert.Contains("passed", string result)
    Assert.Equal<Shape[]>([| Shape.Of 2; Shape.Of 2 |], Seq.toArray result.InputShapes)
    result.ThrowIfFailed()

[<Fact>]
let ``options can be changed without F# record syntax`` () =
    let o = GradCheckOptions.Default.WithStep(1e-4).WithTolerance(1e-3, 1e-2).WithSeed(7)
    Assert.Equal({ Step = 1e-4; AbsoluteTolerance = 1e-3; RelativeTolerance = 1e-2; Seed = 7 }, o)
