/// The test-side table of differentiable public ops: for each op an input domain (an exhaustive
/// match, so a new op does not compile here until it has one), the rule deciding its input
/// shapes, and a builder <c>Node[] -> Node</c>.
module TinyTorch.Properties.Ops

open FsCheck
open FsCheck.FSharp
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Properties.Generators

/// The differentiable public ops under test.
type TestOp =
    | Add
    | Subtract
    | Multiply
    | Divide
    | Negate
    /// x ** n for an integer n, any base (base away from 0 when n < 0).
    | PowerInteger of exponent: int
    /// x ** p for a non-integer p, positive base.
    | PowerFractional of exponent: float
    | Exp
    /// Node.log: the course's clamped ln(max(x, 1e-8)).
    | Log
    | LogUnclamped
    | Relu
    | Sigmoid
    | Tanh
    | SumAll
    | Mean
    /// Node.expand from a shape that broadcasts to the target.
    | Expand
    /// Node.sumTo down to a shape that broadcasts to the input's.
    | SumTo
    /// Node.cast to the other float dtype.
    | Cast
    | ClampMin of lower: float

/// Every op and parameter value the properties draw from.
let allOps: TestOp list =
    [ Add
      Subtract
      Multiply
      Divide
      Negate
      PowerInteger 0
      PowerInteger 1
      PowerInteger 2
      PowerInteger 3
      PowerInteger -1
      PowerInteger -2
      PowerFractional 0.5
      PowerFractional 1.5
      PowerFractional 2.5
      PowerFractional -0.5
      Exp
      Log
      LogUnclamped
      Relu
      Sigmoid
      Tanh
      SumAll
      Mean
      Expand
      SumTo
      Cast
      ClampMin -0.5
      ClampMin 0.0
      ClampMin 1.0 ]

/// How the input shapes of a case are chosen.
type ShapeRule =
    /// One input of any shape.
    | Elementwise
    /// Two inputs whose shapes broadcast together (often different).
    | Broadcasting
    /// One input that broadcasts to the target shape.
    | ExpandToTarget
    /// One input to which the target shape broadcasts.
    | SumToTarget

/// How the adjoint identity ⟨v, J u⟩ = ⟨Jᵀ v, u⟩ is checked for an op.
type AdjointCheck =
    /// GradCheck.compareAdjoint: random float64 u and v, bound 1e-9 relative (float64 rounding).
    | Float64Tangents
    /// The op rounds to float32, which rounds u (forward) and v (reverse) differently; u and v on
    /// a 2^-10 grid in [-1, 1] are exact in float32, so the identity is exact again.
    | RepresentableInFloat32

/// Everything the properties need to know about one op.
type OpSpec =
    {
        Shapes: ShapeRule
        /// One domain per input.
        Domains: Domain list
        /// Builds the op on the inputs; the argument is the target shape (Expand / SumTo only).
        Build: int[] -> Node[] -> Node
        /// Gradient-check options (the defaults except where a reason is written).
        Options: GradCheckOptions
        /// How the adjoint identity is checked.
        Adjoint: AdjointCheck
    }

let private anyValue = Interval(-3.0, 3.0)
let private positive = Interval(0.5, 3.0)
let private nonZero = AwayFrom(0.0, 0.5, 3.0)

let private unary domain (f: Node -> Node) =
    { Shapes = Elementwise
      Domains = [ domain ]
      Build = fun _ xs -> f xs[0]
      Options = GradCheckOptions.Default
      Adjoint = Float64Tangents }

let private binary left right (f: Node -> Node -> Node) =
    { Shapes = Broadcasting
      Domains = [ left; right ]
      Build = fun _ xs -> f xs[0] xs[1]
      Options = GradCheckOptions.Default
      Adjoint = Float64Tangents }

/// The other float dtype.
let flip (dtype: DType) = if dtype = DType.Float64 then DType.Float32 else DType.Float64

/// The domain, shapes and builder of each op (exhaustive: a new TestOp needs an arm here).
let spec (op: TestOp) : OpSpec =
    match op with
    | Add -> binary anyValue anyValue Node.add
    | Subtract -> binary anyValue anyValue Node.subtract
    | Multiply -> binary anyValue anyValue Node.multiply
    // Denominators at least 0.5 away from 0.
    | Divide -> binary anyValue nonZero Node.divide
    | Negate -> unary anyValue Node.negate
    | PowerInteger n when n < 0 -> unary nonZero (Node.power (float n))
    | PowerInteger n -> unary anyValue (Node.power (float n))
    | PowerFractional p -> unary positive (Node.power p)
    | Exp -> unary anyValue Node.exp
    | Log -> unary positive Node.log
    | LogUnclamped -> unary positive Node.logUnclamped
    // relu and clampMin: at least 0.1 from the kink (the step is 1e-6).
    | Relu -> unary (AwayFrom(0.0, 0.1, 3.0)) Node.relu
    | Sigmoid -> unary anyValue Node.sigmoid
    | Tanh -> unary anyValue Node.tanh
    | SumAll -> unary anyValue Node.sumAll
    | Mean -> unary anyValue Node.mean
    | Expand ->
        { unary anyValue id with
            Shapes = ExpandToTarget
            Build = fun target xs -> Node.expand (Shape.Of target) xs[0] }
    | SumTo ->
        { unary anyValue id with
            Shapes = SumToTarget
            Build = fun target xs -> Node.sumTo (Shape.Of target) xs[0] }
    // Cast rounds to float32 (from float64). A central difference with h = 1e-6 would be far
    // below float32 resolution (ulp(1) = 1.2e-7), so, as JAX does for linear ops, the step is
    // large: h = 0.25 on a 2^-10 grid in [-1, 1], where x ± h is exactly representable in
    // float32 and the difference quotient of this linear map is exact (the random-direction
    // check moves off the grid, but rounding then costs only 2^-25 / 0.5 per element). The
    // adjoint identity holds only up to float32 rounding of u and v, so it is checked with
    // tangents and cotangents on the same grid, where that rounding is exact.
    | Cast ->
        { unary (Dyadic(10, -1.0, 1.0)) (fun x -> Node.cast (flip x.DType) x) with
            Options = { GradCheckOptions.Default with Step = 0.25 }
            Adjoint = RepresentableInFloat32 }
    | ClampMin lower -> unary (AwayFrom(lower, 0.1, 3.0)) (Node.clampMin lower)

/// One generated instance of an op: target shape (Expand / SumTo), input shapes and values, and a
/// seed for the random cotangents and directions.
type OpCase =
    { Op: TestOp
      Target: int[]
      Shapes: int[][]
      Values: float[][]
      Seed: int }

    /// The inputs as float64 tensors.
    member c.Inputs: Tensor[] = Array.map2 tensorOf c.Shapes c.Values
    /// The op applied to nodes.
    member c.Build: Node[] -> Node = (spec c.Op).Build c.Target
    /// The gradient-check options of the op, with this case's seed.
    member c.Options = { (spec c.Op).Options with Seed = c.Seed }

/// Input shapes (and target) for an op.
let private shapesGen (rule: ShapeRule) : Gen<int[] * int[][]> =
    match rule with
    | Elementwise -> shapeGen |> Gen.map (fun s -> [||], [| s |])
    | Broadcasting -> broadcastPairGen |> Gen.map (fun (a, b) -> [||], [| a; b |])
    | ExpandToTarget ->
        gen {
            let! big = shapeGen
            let! small = broadcastableTo big
            return big, [| small |]
        }
    | SumToTarget ->
        gen {
            let! big = shapeGen
            let! small = broadcastableTo big
            return small, [| big |]
        }

/// A random case of the given op, with values in its domains.
let caseGen (op: TestOp) : Gen<OpCase> =
    let s = spec op

    gen {
        let! target, shapes = shapesGen s.Shapes
        let domains = List.toArray s.Domains

        let! values =
            shapes
            |> Array.mapi (fun i dims -> Gen.arrayOfLength (numel dims) (domainGen domains[i]))
            |> Gen.sequenceToArray

        let! seed = Gen.choose (0, 1_000_000)

        return
            { Op = op
              Target = target
              Shapes = shapes
              Values = values
              Seed = seed }
    }

/// Shrinks a case while keeping it valid: values to the domain's canonical point, and (for
/// elementwise ops) the input to a scalar.
let shrinkCase (c: OpCase) : seq<OpCase> =
    let domains = List.toArray (spec c.Op).Domains

    seq {
        if (spec c.Op).Shapes = Elementwise && c.Shapes[0].Length > 0 then
            yield { c with Shapes = [| [||] |]; Values = [| [| c.Values[0][0] |] |] }

        let simple = c.Values |> Array.mapi (fun i v -> Array.create v.Length (canonical domains[i]))

        if simple <> c.Values then
            yield { c with Values = simple }
    }

/// Cases of any op in <see cref="allOps"/>.
let anyCaseGen: Gen<OpCase> = Gen.elements allOps |> Gen.bind caseGen

/// Registers <see cref="OpCase"/> for properties.
type OpArbs =
    static member OpCase() : Arbitrary<OpCase> = Arb.fromGenShrink (anyCaseGen, shrinkCase)
