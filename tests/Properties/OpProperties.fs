/// Table-driven properties over every differentiable op of the core: gradients against central
/// differences, the adjoint identity, gradient shapes and dtypes, determinism, float32 against
/// float64, and second order (Hessian-vector products) against differences of the gradient.
///
/// Each property checks one generated case of every entry of <see cref="allOps"/> per test (an
/// <see cref="OpSuite"/>), so MaxTest is the number of cases per op. A failing suite shrinks to
/// the one failing case.
module TinyTorch.Properties.OpProperties

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Properties.Generators
open TinyTorch.Properties.Ops

let private describe (c: OpCase) (mismatches: GradCheckMismatch list) =
    sprintf "%A\nmismatches:\n%s" c (mismatches |> List.truncate 10 |> List.map string |> String.concat "\n")

/// None when the check passed, else the description of the failure.
let private failIf (ok: bool) (describeFailure: unit -> string) = if ok then None else Some(describeFailure ())

/// A random tensor in [-1, 1] with float32-representable values, in the given dtype.
let private randomLike (rng: Random) (dims: Shape) (dtype: DType) =
    let values = Array.init dims.Size (fun _ -> float (float32 (rng.NextDouble() * 2.0 - 1.0)))
    Tensor.cast dtype (tensorOf (dims.ToArray()) values)

/// The gradient of each leaf (zeros when the output does not reach it).
let private gradientsOf (grads: Gradients) (leaves: Node[]) : Tensor[] =
    leaves
    |> Array.map (fun leaf ->
        match grads.TryFind leaf with
        | Some g -> g.Value
        | None -> Tensor.zerosLike leaf.Value)

/// Runs a check on every case of the suite (an exception counts as a failure of that case).
let private everyCase (check: OpCase -> string option) (OpSuite cases) : Property =
    let failures =
        cases
        |> Array.choose (fun c ->
            try
                check c
            with e ->
                Some(sprintf "%A\nthrew %O" c e))

    Array.isEmpty failures
    |> Prop.label (
        sprintf
            "%d of %d cases failed (first ones shown):\n%s"
            failures.Length
            cases.Length
            (failures |> Array.truncate 3 |> String.concat "\n\n")
    )

// ---------------------------------------------------------------------------------------------
// (a) reverse mode against central differences, every op, float64, shapes of rank 0-3 and
//     broadcast operand pairs for the binary ops.

let private finiteDifferences (c: OpCase) =
    let mismatches = GradCheck.compare c.Options c.Build c.Inputs
    failIf (List.isEmpty mismatches) (fun () -> describe c mismatches)

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 80)>]
let ``every op's reverse-mode gradient matches central differences in float64`` (suite: OpSuite) =
    everyCase finiteDifferences suite

let private randomDirection (c: OpCase) =
    let mismatches = GradCheck.compareDirection c.Options c.Build c.Inputs
    failIf (List.isEmpty mismatches) (fun () -> describe c mismatches)

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 100)>]
let ``every op's gradient agrees with the random-direction check`` (suite: OpSuite) =
    everyCase randomDirection suite

// ---------------------------------------------------------------------------------------------
// (b) the adjoint identity <v, J u> = <J^T v, u>: each op's VJP against its JVP, no step size.

/// ⟨v, J u⟩ (forward mode) and ⟨Jᵀ v, u⟩ (reverse mode) for u, v on a 2^-10 grid in [-1, 1]
/// (exact in float32), with GradCheck.compareAdjoint's bound: 1e-9 relative to the terms.
let private adjointOnFloat32Grid (c: OpCase) =
    let rng = Random c.Seed
    let onGrid (dims: Shape) =
        tensorOf (dims.ToArray()) (Array.init dims.Size (fun _ -> float (rng.Next(-1024, 1025)) / 1024.0))
    let leaves = Array.map Node.leaf c.Inputs
    let out = c.Build leaves
    let v = onGrid out.Shape
    let u = leaves |> Array.map (fun l -> onGrid l.Shape)
    let forward = dot v (Forward.tangent (Array.zip leaves u) out)
    let grads = gradientsOf (Reverse.gradientsFor (Tensor.cast out.DType v) out) leaves
    let reverse = Array.fold2 (fun s g ui -> s + dot g ui) 0.0 grads u
    let bound = 1e-9 * max 1.0 (max (abs forward) (abs reverse))

    if abs (forward - reverse) <= bound then []
    else
        [ { Check = "adjoint"
            Input = -1
            Element = -1
            Analytic = reverse
            Reference = forward
            Bound = bound } ]

let private adjoint (c: OpCase) =
    let mismatches =
        match (spec c.Op).Adjoint with
        | Float64Tangents -> GradCheck.compareAdjoint c.Options c.Build c.Inputs
        | RepresentableInFloat32 -> adjointOnFloat32Grid c

    failIf (List.isEmpty mismatches) (fun () -> describe c mismatches)

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 100)>]
let ``every op's VJP is the adjoint of its JVP`` (suite: OpSuite) = everyCase adjoint suite

// Regression: the adjoint check once used a fixed float64 bound (1e-9 relative), so a correct
// function passing through float32 (here a plain cast) was reported as a mismatch of about 1e-8
// (the JVP rounds u to float32, the VJP rounds v). The bound now follows the graph's precision.
[<Property(MaxTest = 50)>]
let ``GradCheck.compareAdjoint accepts a correct float32 cast`` () =
    Prop.forAll (Arb.fromGen (caseGen Cast)) (fun c ->
        let mismatches = GradCheck.compareAdjoint c.Options c.Build c.Inputs
        List.isEmpty mismatches |> Prop.label (describe c mismatches))

// ---------------------------------------------------------------------------------------------
// (c) gradient shape = input shape and gradient dtype = input dtype, with random input dtypes
//     (so multi-input ops also see mixed float32/float64 operands); the output dtype follows
//     PyTorch's promotion.

/// Independent model of the promotion rule: equal dtypes stay; a 0-d operand does not promote an
/// operand of higher rank; otherwise float64.
let private promoted (aRank: int, a: DType) (bRank: int, b: DType) =
    let dtype =
        if a = b then a
        elif aRank = 0 && bRank > 0 then b
        elif bRank = 0 && aRank > 0 then a
        else DType.Float64

    max aRank bRank, dtype

let private shapesAndDTypes (c: OpCase) =
    let rng = Random(c.Seed + 1)
    let single = Array.init c.Shapes.Length (fun _ -> rng.Next 2 = 0)
    let inputs =
        Array.init c.Shapes.Length (fun i ->
            let make = if single[i] then tensor32Of else tensorOf
            make c.Shapes[i] c.Values[i])
    let leaves = Array.map Node.leaf inputs
    let out = c.Build leaves
    let grads = Reverse.gradientsFor (Tensor.onesLike out.Value) out

    let expectedOutDType =
        match c.Op with
        | Cast -> flip inputs[0].DType
        | _ -> inputs |> Array.map (fun t -> t.Rank, t.DType) |> Array.reduce promoted |> snd

    let ok =
        out.DType = expectedOutDType
        && grads.Count = leaves.Length
        && leaves
           |> Array.forall (fun leaf ->
               let g = grads[leaf].Value
               g.Shape.Equals leaf.Shape && g.DType = leaf.DType)

    failIf ok (fun () ->
        sprintf
            "%A\ninput dtypes %A, output %O %O, gradients %s"
            c
            (inputs |> Array.map (fun t -> t.DType))
            out.Shape
            out.DType
            (leaves
             |> Array.map (fun l ->
                 match grads.TryFind l with
                 | Some g -> sprintf "%O %O" g.Shape g.DType
                 | None -> "missing")
             |> String.concat "; "))

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 100)>]
let ``gradients have the shape and dtype of their inputs`` (suite: OpSuite) = everyCase shapesAndDTypes suite

// ---------------------------------------------------------------------------------------------
// (d) determinism: backward twice on the same graph, and on a rebuilt graph, bitwise equal
//     (in float32 for odd seeds, float64 for even ones).

let private deterministic (c: OpCase) =
    let single = c.Seed % 2 = 1
    let inputs = if single then Array.map2 tensor32Of c.Shapes c.Values else c.Inputs
    let leaves = Array.map Node.leaf inputs
    let out = c.Build leaves
    let seed = randomLike (Random c.Seed) out.Shape out.DType
    let first = gradientsOf (Reverse.gradientsFor seed out) leaves
    let second = gradientsOf (Reverse.gradientsFor seed out) leaves
    let leaves' = Array.map Node.leaf inputs
    let rebuilt = gradientsOf (Reverse.gradientsFor seed (c.Build leaves')) leaves'

    failIf
        (Array.forall2 bitwiseEqual first second && Array.forall2 bitwiseEqual first rebuilt)
        (fun () -> sprintf "%A\nfirst %A\nsecond %A\nrebuilt %A" c first second rebuilt)

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 100)>]
let ``two backward passes give bitwise-equal gradients`` (suite: OpSuite) = everyCase deterministic suite

// ---------------------------------------------------------------------------------------------
// (e) float32 against float64 on the same (float32-representable) inputs and cotangent.
//
// Tolerance |v32 − v64| ≤ 1e-5 + 1e-4·|v64|. Reason: float32 rounds to 2^-24 ≈ 6e-8 relative;
// one op rounds its result once or twice (the vectorized exp/log/tanh/pow of
// System.Numerics.Tensors are accurate to a few ulp), a gradient applies one to three more
// roundings, and the reductions sum at most 64 terms of magnitude ≤ 3 (a few 1e-6 absolute in
// the worst case). So errors stay below about 1e-6 relative / 1e-5 absolute; 1e-4 leaves a wide
// margin while still catching a float32 kernel that is wrong rather than rounded.
//
// Every op takes part. Dropout too: its mask comes from Random(seed) with one draw per element
// whatever the dtype, so both precisions drop the same elements; only the scale 1/(1 − p) is
// rounded to float32 (2.5e-8 relative for p = 0.25, exact for p = 0.5).

let private float32AgreesWithFloat64 (c: OpCase) =
    let rounded = c.Values |> Array.map (Array.map (fun v -> float (float32 v)))
    let leaves64 = Array.map2 tensorOf c.Shapes rounded |> Array.map Node.leaf
    let leaves32 = Array.map2 tensor32Of c.Shapes rounded |> Array.map Node.leaf
    let out64 = c.Build leaves64
    let out32 = c.Build leaves32
    let seed = randomLike (Random c.Seed) out64.Shape DType.Float64
    let g64 = gradientsOf (Reverse.gradientsFor seed out64) leaves64
    let g32 = gradientsOf (Reverse.gradientsFor (Tensor.cast out32.DType seed) out32) leaves32
    let close = allClose 1e-5 1e-4

    failIf
        (close out32.Value out64.Value && Array.forall2 close g32 g64)
        (fun () -> sprintf "%A\nvalue32 %O\nvalue64 %O\ngrad32 %A\ngrad64 %A" c out32.Value out64.Value g32 g64)

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 100)>]
let ``float32 results agree with float64 within float32 tolerance`` (suite: OpSuite) =
    everyCase float32AgreesWithFloat64 suite

// ---------------------------------------------------------------------------------------------
// (f) second order: gradients recorded with createGraph = true are differentiable. For
//     s(x) = <w, f(x)> the Hessian-vector product H v = grad <grad s, v> is compared with the
//     central difference of the first-order gradient along v. Run for every op: for the
//     piecewise-linear and linear ops H v = 0 on both sides (the generated inputs keep every kink
//     at least 0.1 ≫ h away, so the difference never straddles one).

/// First-order gradient of <w, f(x)> at the inputs.
let private gradientAt (build: Node[] -> Node) (w: Tensor) (inputs: Tensor[]) =
    let leaves = Array.map Node.leaf inputs
    gradientsOf (Reverse.gradientsFor w (build leaves)) leaves

/// H v through a recorded backward pass, and the recorded gradient itself.
let private hessianVector (build: Node[] -> Node) (w: Tensor) (inputs: Tensor[]) (v: Tensor[]) =
    let leaves = Array.map Node.leaf inputs
    let grads = Reverse.gradientsWith true (Node.constant w) (build leaves)

    let g =
        leaves
        |> Array.map (fun leaf ->
            match grads.TryFind leaf with
            | Some g -> g
            | None -> Node.constant (Tensor.zerosLike leaf.Value))

    let q =
        Array.map2 (fun (gi: Node) vi -> Node.sumAll (Node.multiply gi (Node.constant vi))) g v
        |> Array.reduce Node.add

    let hv =
        if q.RequiresGrad then gradientsOf (Reverse.gradients q) leaves
        else leaves |> Array.map (fun l -> Tensor.zerosLike l.Value)

    hv, g |> Array.map (fun n -> n.Value)

let private secondOrder (c: OpCase) =
    let rng = Random c.Seed
    let inputs = c.Inputs
    let out = c.Build(Array.map Node.constant inputs)
    let w = randomLike rng out.Shape DType.Float64
    let v = inputs |> Array.map (fun x -> randomLike rng x.Shape DType.Float64)
    let hv, recordedGradient = hessianVector c.Build w inputs v
    let h = 1e-6
    let along (sign: float) =
        gradientAt c.Build w (Array.map2 (fun (x: Tensor) d -> x + d * (sign * h)) inputs v)
    let plus, minus = along 1.0, along -1.0
    let numeric = Array.map2 (fun (p: Tensor) m -> (p - m) / (2.0 * h)) plus minus
    let firstOrder = gradientAt c.Build w inputs

    failIf
        (Array.forall2 (allClose 1e-5 1e-3) hv numeric && Array.forall2 bitwiseEqual recordedGradient firstOrder)
        (fun () ->
            sprintf
                "%A\nHv %A\nnumeric %A\nrecorded gradient %A\nfirst-order gradient %A"
                c
                hv
                numeric
                recordedGradient
                firstOrder)

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 80)>]
let ``gradients recorded with createGraph give Hessian-vector products matching differences of the gradient``
    (suite: OpSuite)
    =
    everyCase secondOrder suite

// ---------------------------------------------------------------------------------------------
// The generators themselves: every op's values lie in its domain with the documented margins, and
// its shapes and parameters are valid (checked against an independent restatement of each rule).

/// Whether shapes broadcast together (NumPy rules), for any number of them.
let private broadcastTogether (shapes: int[] list) =
    let rank = shapes |> List.fold (fun r s -> max r s.Length) 0

    Seq.forall
        (fun i ->
            shapes
            |> List.choose (fun s ->
                let k = i - (rank - s.Length)
                if k >= 0 && s[k] <> 1 then Some s[k] else None)
            |> List.distinct
            |> List.length
            <= 1)
        (seq { 0 .. rank - 1 })

let private inRange (n: int) (i: int) = -n <= i && i < n

let private matmulValid (kind: MatMulKind) (a: int[]) (b: int[]) =
    let ra, rb = a.Length, b.Length
    let batchesFit () = broadcastTogether [ a[.. ra - 3]; b[.. rb - 3] ]

    match kind with
    | VectorVector -> ra = 1 && rb = 1 && a[0] = b[0]
    | VectorMatrix -> ra = 1 && rb = 2 && a[0] = b[0]
    | MatrixVector -> ra = 2 && rb = 1 && a[1] = b[0]
    | MatrixMatrix -> ra = 2 && rb = 2 && a[1] = b[0]
    | Batched -> ra >= 2 && rb >= 2 && max ra rb >= 3 && a[ra - 1] = b[rb - 2] && batchesFit ()
    | VectorBatched -> ra = 1 && rb >= 3 && a[0] = b[rb - 2]
    | BatchedVector -> ra >= 3 && rb = 1 && a[ra - 1] = b[0]

let private sliceValid (source: int[]) axis start length step =
    inRange source.Length axis
    && (let size = source[normalize source.Length axis]
        let s = normalize size start
        inRange size start && length >= 0 && step >= 1 && (length = 0 || s + (length - 1) * step < size))

let private indicesValid (source: int[]) axis (shape: int[]) (indices: int64[]) (dtype: DType) =
    (dtype = DType.Int32 || dtype = DType.Int64)
    && inRange source.Length axis
    && numel shape = indices.Length
    && (let size = source[normalize source.Length axis]
        indices |> Array.forall (fun i -> 0L <= i && i < int64 size))

let private gatherFits (source: int[]) axis (shape: int[]) =
    shape.Length = source.Length
    && Seq.forall (fun d -> d = normalize source.Length axis || shape[d] = source[d]) (seq { 0 .. source.Length - 1 })

let private structureValid (rule: ShapeRule) (shapes: int[][]) (p: Params) =
    let one = shapes.Length = 1
    let rank = if one then shapes[0].Length else -1

    match rule, p with
    | Elementwise, NoParams -> one
    | Broadcasting, NoParams -> shapes.Length = 2 && broadcastTogether (List.ofArray shapes)
    | ExpandToTarget, TargetShape t -> one && Shape.broadcastsTo (Shape.Of shapes[0]) (Shape.Of t)
    | SumToTarget, TargetShape t -> one && Shape.broadcastsTo (Shape.Of t) (Shape.Of shapes[0])
    | SameShapes n, NoParams -> shapes.Length = n && Array.forall ((=) shapes[0]) shapes
    | WhereOperands, Condition(c, values) ->
        shapes.Length = 2 && numel c = values.Length && broadcastTogether [ shapes[0]; shapes[1]; c ]
    | ReshapeTarget, TargetShape dims ->
        let known = dims |> Array.filter ((<>) -1) |> Array.fold (*) 1

        match dims |> Array.filter ((=) -1) |> Array.length with
        | 0 -> one && known = numel shapes[0]
        | 1 -> one && known > 0 && numel shapes[0] % known = 0
        | _ -> false
    | FlattenRange, Axes [| a; b |] ->
        one && (rank = 0 || inRange rank a && inRange rank b && normalize rank a <= normalize rank b)
    | UnsqueezeAxis, Axis a -> one && inRange (rank + 1) a
    | SqueezeOneAxis, Axis a -> one && inRange rank a && shapes[0][normalize rank a] = 1
    | Permutation, Axes axes ->
        one
        && Array.forall (inRange rank) axes
        && (axes |> Array.map (normalize rank) |> Array.sort) = Array.init rank id
    | TransposePair, Axes [| a; b |] -> one && rank >= 1 && inRange rank a && inRange rank b
    | MatMulShapes kind, NoParams -> shapes.Length = 2 && matmulValid kind shapes[0] shapes[1]
    | OuterVectors, NoParams -> shapes.Length = 2 && shapes |> Array.forall (fun s -> s.Length = 1)
    | LinearShapes, NoParams ->
        shapes.Length = 3 && shapes[1].Length = 2 && shapes[2] = [| shapes[1][0] |] && shapes[0].Length >= 1 && Array.last shapes[0] = shapes[1][1]
    | ConcatAlong, Axis a ->
        let r = shapes[0].Length

        shapes.Length >= 2
        && r >= 1
        && inRange r a
        && shapes |> Array.forall (fun s -> s.Length = r && Seq.forall (fun d -> d = normalize r a || s[d] = shapes[0][d]) (seq { 0 .. r - 1 }))
    | StackAlong, Axis a -> shapes.Length >= 2 && Array.forall ((=) shapes[0]) shapes && inRange (shapes[0].Length + 1) a
    | SliceRange stepOne, SliceOf(source, axis, start, length, step) ->
        one && shapes[0] = source && sliceValid source axis start length step && (not stepOne || step = 1)
    | SelectIndex, AxisIndex(a, i) -> one && inRange rank a && inRange (shapes[0][normalize rank a]) i
    | IndexVector, IndexOf(source, a, shape, indices, dtype) ->
        one && shapes[0] = source && shape.Length = 1 && indicesValid source a shape indices dtype
    | GatherIndex, IndexOf(source, a, shape, indices, dtype) ->
        one && shapes[0] = source && gatherFits source a shape && indicesValid source a shape indices dtype
    | SliceCotangent, SliceOf(source, axis, start, length, step) ->
        one
        && sliceValid source axis start length step
        && shapes[0] = Array.updateAt (normalize source.Length axis) length source
    | IndexVectorCotangent, IndexOf(source, a, shape, indices, dtype) ->
        one
        && shape.Length = 1
        && indicesValid source a shape indices dtype
        && shapes[0] = Array.updateAt (normalize source.Length a) shape[0] source
    | GatherCotangent, IndexOf(source, a, shape, indices, dtype) ->
        one && gatherFits source a shape && indicesValid source a shape indices dtype && shapes[0] = shape
    | ReduceAxes minCount, Axes axes ->
        let normalized = axes |> Array.map (normalize rank)

        one
        && axes.Length >= 1
        && Array.forall (inRange rank) axes
        && (Array.distinct normalized).Length = axes.Length
        && (normalized |> Array.fold (fun n a -> n * shapes[0][a]) 1) >= minCount
    | ReduceAxis, Axis a -> one && rank >= 1 && inRange rank a
    | Classification weighted, Labels(labels, weights, dtype) ->
        one
        && (dtype = DType.Int32 || dtype = DType.Int64)
        && rank = 2
        && labels.Length = shapes[0][0]
        && labels |> Array.forall (fun l -> 0L <= l && l < int64 (shapes[0][1]))
        && (if weighted then weights.Length = shapes[0][1] && Array.forall (fun w -> w > 0.0) weights
            else weights.Length = 0)
    | _ -> false

let private respectsDomainAndRule (c: OpCase) =
    let s = spec c.Op

    failIf
        (structureValid s.Shapes c.Shapes c.Params
         && c.Values.Length = c.Shapes.Length
         && Array.forall2 (fun (dims: int[]) (vs: float[]) -> dims.Length <= 4 && numel dims = vs.Length) c.Shapes c.Values
         && c.Values |> Array.mapi (fun i vs -> inDomainArray (domainOf s i) vs) |> Array.forall id)
        (fun () -> sprintf "%A" c)

[<Property(Arbitrary = [| typeof<OpArbs> |], MaxTest = 100)>]
let ``generated cases respect their op's domain and shape rule`` (suite: OpSuite) =
    everyCase respectsDomainAndRule suite

[<Fact>]
let ``the op list names every TestOp case and every matmul kind`` () =
    let tag = Reflection.FSharpValue.PreComputeUnionTagReader(typeof<TestOp>)
    let listed = allOps |> List.map (fun op -> tag (box op)) |> set

    for case in Reflection.FSharpType.GetUnionCases(typeof<TestOp>) do
        Assert.True(listed.Contains case.Tag, sprintf "TestOp.%s is missing from allOps" case.Name)

    let kindTag = Reflection.FSharpValue.PreComputeUnionTagReader(typeof<MatMulKind>)
    let kinds = allOps |> List.choose (function MatMul k -> Some(kindTag (box k)) | _ -> None) |> set

    for case in Reflection.FSharpType.GetUnionCases(typeof<MatMulKind>) do
        Assert.True(kinds.Contains case.Tag, sprintf "MatMul %s is missing from allOps" case.Name)

    Assert.Equal(allOps.Length, (List.distinct allOps).Length)

// ---------------------------------------------------------------------------------------------
// Coverage of the engine's Op DU: an exhaustive match, so a new Op case does not compile here
// until it says how it is tested.

/// How one engine op is exercised by these tests.
type Coverage =
    /// The graphs built by each of these test ops contain a node with the engine op.
    | InGraphOf of TestOp list
    /// The op never appears as a graph node (it only makes constant masks inside other rules);
    /// its rule is checked directly and the ops that use it have convention tests.
    | MaskRule of usedBy: TestOp list

/// How each engine op is tested.
let testedBy (op: Op) : Coverage =
    match op with
    | Op.Leaf -> InGraphOf [ Add; Exp ]
    | Op.Constant -> InGraphOf [ Mean ]
    | Op.Add -> InGraphOf [ Add; Gelu true ]
    | Op.Subtract -> InGraphOf [ Subtract; Variance(true, false); Mse Reduction.Mean ]
    | Op.Multiply -> InGraphOf [ Multiply; Mean; Outer; Dropout(0.5, 1) ]
    // The engine's own chain-rule product; public as Node.safeMultiply.
    | Op.SafeMultiply -> InGraphOf [ SafeMultiply ]
    | Op.Divide -> InGraphOf [ Divide; Reciprocal; CrossEntropy(Reduction.Mean, true, 0.0) ]
    | Op.Negate -> InGraphOf [ Negate; LogSigmoid; Nll(Reduction.Sum, false) ]
    | Op.Power _ -> InGraphOf [ PowerInteger 2; PowerInteger -1; PowerFractional 0.5; Square; Gelu true ]
    | Op.Exp -> InGraphOf [ Exp; Softmax ]
    | Op.Log -> InGraphOf [ Log; LogUnclamped; LogSumExp false ]
    | Op.Relu -> InGraphOf [ Relu ]
    | Op.Sigmoid -> InGraphOf [ Sigmoid ]
    | Op.Tanh -> InGraphOf [ Tanh; Gelu true ]
    | Op.SumAll -> InGraphOf [ SumAll; Mean; MaxAll; Mse Reduction.Sum ]
    | Op.Expand _ -> InGraphOf [ Expand; BroadcastTo; Add; Multiply; MatMul Batched; Where ]
    | Op.SumTo _ -> InGraphOf [ SumTo; Sum true; MeanAlong false; LogSumExp true ]
    | Op.Cast _ -> InGraphOf [ Cast ]
    | Op.ClampMin _ -> InGraphOf [ ClampMin 0.0; Log; Clamp(-0.5, 1.0) ]
    | Op.Step _ -> MaskRule [ Relu; ClampMin 0.0 ]
    // The one-pass cotangent of relu and clamp_min; reached as relu's recorded backward pass.
    | Op.StepMultiply _ -> InGraphOf [ ReluBackward ]
    | Op.Abs -> InGraphOf [ Abs; Huber(1.2, Reduction.Mean) ]
    | Op.Sqrt -> InGraphOf [ Sqrt; Std(true, false) ]
    | Op.Sin -> InGraphOf [ Sin ]
    | Op.Cos -> InGraphOf [ Cos ]
    | Op.Log1p -> InGraphOf [ Log1p ]
    | Op.Expm1 -> InGraphOf [ Expm1; Elu 1.0 ]
    | Op.Softplus -> InGraphOf [ Softplus; LogSigmoid; BinaryCrossEntropyWithLogits Reduction.Mean ]
    | Op.Erf -> InGraphOf [ Erf; Gelu false ]
    | Op.ClampMax _ -> InGraphOf [ ClampMax 0.0; Clamp(0.0, 0.5) ]
    | Op.Maximum -> InGraphOf [ Maximum ]
    | Op.Minimum -> InGraphOf [ Minimum ]
    | Op.Where _ -> InGraphOf [ Where; LeakyRelu 0.01; Elu 0.5; MaxAll; MinAll; Huber(0.4, Reduction.Mean) ]
    | Op.Reshape _ ->
        InGraphOf [ Reshape; Flatten; Unsqueeze; SqueezeAxis; Squeeze; Select; Stack; MatMul VectorVector; Sum false; Nll(Reduction.None, true) ]
    | Op.Permute _ -> InGraphOf [ Permute; Transpose ]
    | Op.MatMul _ ->
        InGraphOf [ MatMul VectorVector; MatMul VectorMatrix; MatMul MatrixVector; MatMul MatrixMatrix; MatMul Batched; MatMul VectorBatched; MatMul BatchedVector; Linear ]
    | Op.Concat _ -> InGraphOf [ Concat; Stack ]
    | Op.Slice _ -> InGraphOf [ Slice; Narrow; Select ]
    // No public constructor: reached as the recorded backward pass of slice.
    | Op.SliceScatter _ -> InGraphOf [ SliceBackward ]
    | Op.IndexSelect _ -> InGraphOf [ IndexSelect ]
    // No public constructor: reached as the recorded backward pass of indexSelect.
    | Op.IndexAdd _ -> InGraphOf [ IndexSelectBackward ]
    | Op.Gather _ -> InGraphOf [ Gather; MaxAlong true; MinAlong false; Nll(Reduction.Mean, false); CrossEntropy(Reduction.None, false, 0.2) ]
    // No public constructor: reached as the recorded backward pass of gather.
    | Op.ScatterAdd _ -> InGraphOf [ GatherBackward ]
    // A user-defined op: the test-side cube (Ops.cubeOp) goes through every property.
    | Op.Custom _ -> InGraphOf [ CustomCube ]

/// One value of every engine Op case.
let private sampleOps: Op list =
    let index = Tensor([| 0L |])

    [ Op.Leaf
      Op.Constant
      Op.Add
      Op.Subtract
      Op.Multiply
      Op.SafeMultiply
      Op.Divide
      Op.Negate
      Op.Power 2.0
      Op.Exp
      Op.Log
      Op.Relu
      Op.Sigmoid
      Op.Tanh
      Op.SumAll
      Op.Expand(Shape.Of 2)
      Op.SumTo(Shape.Of 2)
      Op.Cast DType.Float32
      Op.ClampMin 0.0
      Op.Step(0.0, 0.0)
      Op.StepMultiply(0.0, 0.0)
      Op.Abs
      Op.Sqrt
      Op.Sin
      Op.Cos
      Op.Log1p
      Op.Expm1
      Op.Softplus
      Op.Erf
      Op.ClampMax 0.0
      Op.Maximum
      Op.Minimum
      Op.Where(Tensor 1.0)
      Op.Reshape(Shape.Of 2)
      Op.Permute [| 0 |]
      Op.MatMul(false, false)
      Op.Concat 0
      Op.Slice(0, 0, 1, 1)
      Op.SliceScatter(0, 0, 1, 2)
      Op.IndexSelect(0, index)
      Op.IndexAdd(0, index, 2)
      Op.Gather(0, index)
      Op.ScatterAdd(0, index, Shape.Of 2)
      Op.Custom cubeOp ]

/// The first 40 generated cases of a test op, from a fixed seed (the same every run).
let private exampleCases (op: TestOp) : OpCase[] =
    Gen.sampleWithSeed (Rnd(20250101UL, 0x9E3779B97F4A7C15UL)) 10 40 (caseGen op)

/// Every node reachable through Inputs (constants included), iteratively.
let private allNodes (root: Node) =
    let seen = Collections.Generic.HashSet<Node>(HashIdentity.Reference)
    let stack = Collections.Generic.Stack<Node>([ root ])

    while stack.Count > 0 do
        let n = stack.Pop()

        if seen.Add n then
            for i in n.Inputs do
                stack.Push i

    seen

[<Fact>]
let ``every case of the engine's Op DU is exercised by the tests`` () =
    let tag = Reflection.FSharpValue.PreComputeUnionTagReader(typeof<Op>)
    let sampled = sampleOps |> List.map (fun op -> tag (box op)) |> set

    for case in Reflection.FSharpType.GetUnionCases(typeof<Op>) do
        Assert.True(sampled.Contains case.Tag, sprintf "Op.%s has no sample in sampleOps" case.Name)

    for op in sampleOps do
        match testedBy op with
        | InGraphOf testOps ->
            Assert.NotEmpty testOps

            for testOp in testOps do
                Assert.True(List.contains testOp allOps, sprintf "%A (listed for %s) is not in allOps" testOp op.Name)
                // Some of the op's generated cases must record the engine op (a case may legitimately
                // skip it, e.g. a slice that takes the whole axis returns its input).
                let recorded =
                    exampleCases testOp
                    |> Array.exists (fun c ->
                        let out = c.Build(Array.map Node.leaf c.Inputs)
                        allNodes out |> Seq.exists (fun n -> n.Op.Name = op.Name))

                Assert.True(recorded, sprintf "no graph of the first 40 cases of %A has a %s node" testOp op.Name)
        | MaskRule usedBy ->
            Assert.NotEmpty usedBy
            // Step(0, 0.5): 1 above, 0 below, 0.5 at the threshold; no VJP and no JVP.
            let rule = OpTable.rule (Op.Step(0.0, 0.5))
            let mask = rule.Forward [| Tensor.FromArray([| -1.0; 0.0; 2.0 |], 3) |]
            Assert.Equal<float[]>([| 0.0; 0.5; 1.0 |], mask.ToArray())
            let x = Node.constant (Tensor.FromArray([| -1.0; 0.0; 2.0 |], 3))
            let y = Node.constant mask
            Assert.True(Array.forall isNull (rule.Vjp [| x |] y (Node.constant (Tensor.onesLike mask))))
            Assert.Null(rule.Jvp [| x |] y [| Node.constant (Tensor.onesLike mask) |])
