/// The test-side table of differentiable public ops: for each op an input domain (an exhaustive
/// match, so a new op does not compile here until it has one), the rule deciding its input
/// shapes and parameters (axes, slices, indices, labels), and a builder <c>Params -> Node[] -> Node</c>.
module TinyTorch.Properties.Ops

open System
open FsCheck
open FsCheck.FSharp
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Properties.Generators

/// The NumPy cases of matmul, each with its own shapes.
type MatMulKind =
    /// [k]·[k] → [] (dot product)
    | VectorVector
    /// [k]·[k, n] → [n]
    | VectorMatrix
    /// [m, k]·[k] → [m]
    | MatrixVector
    /// [m, k]·[k, n] → [m, n]
    | MatrixMatrix
    /// [..a, m, k]·[..b, k, n] → [..broadcast(a, b), m, n], batch dimensions broadcast
    | Batched
    /// [k]·[..b, k, n] → [..b, n]
    | VectorBatched
    /// [..a, m, k]·[k] → [..a, m]
    | BatchedVector

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
    // ---- elementwise ----
    | Abs
    | Sqrt
    | Square
    | Sin
    | Cos
    | Log1p
    | Expm1
    | Softplus
    | Erf
    | ClampMax of upper: float
    | Clamp of lower: float * upper: float
    | Reciprocal
    | LeakyRelu of slope: float
    | Elu of alpha: float
    | LogSigmoid
    | Gelu of tanhApproximation: bool
    /// Node.dropout in training mode with a fresh Random(seed) on every build: the same mask each time.
    | Dropout of p: float * seed: int
    | SafeMultiply
    | Maximum
    | Minimum
    /// Node.where with a constant condition (zeros and nonzeros), all three operands broadcasting.
    | Where
    // ---- shapes ----
    | Reshape
    | Flatten
    | Unsqueeze
    | SqueezeAxis
    | Squeeze
    | Permute
    | Transpose
    | BroadcastTo
    | MatMul of MatMulKind
    | Outer
    | Linear
    | Concat
    | Stack
    | Slice
    | Narrow
    | Select
    | IndexSelect
    | Gather
    /// The recorded backward pass of slice (an engine SliceScatter node) as a function of its
    /// cotangent: Reverse.gradientsWith createGraph = true seeded with the input. Slice-scatter has no
    /// public constructor; users reach it exactly this way (gradients of gradients).
    | SliceBackward
    /// The recorded backward pass of indexSelect (an engine IndexAdd node) in its cotangent.
    | IndexSelectBackward
    /// The recorded backward pass of gather (an engine ScatterAdd node) in its cotangent.
    | GatherBackward
    /// The recorded backward pass of relu (an engine StepMultiply node) as a function of both the
    /// cotangent and relu's input.
    | ReluBackward
    // ---- reductions ----
    | Sum of keepDim: bool
    | MeanAlong of keepDim: bool
    | MaxAlong of keepDim: bool
    | MinAlong of keepDim: bool
    | MaxAll
    | MinAll
    | Variance of unbiased: bool * keepDim: bool
    | Std of unbiased: bool * keepDim: bool
    | LogSumExp of keepDim: bool
    | LogSoftmax
    | Softmax
    // ---- losses ----
    | Mse of Reduction
    | Huber of delta: float * reduction: Reduction
    | BinaryCrossEntropyWithLogits of Reduction
    | Nll of reduction: Reduction * weighted: bool
    | CrossEntropy of reduction: Reduction * weighted: bool * labelSmoothing: float
    // ---- user-defined ----
    /// x ↦ x³ as a user-defined op (Node.custom with <see cref="cubeOp"/>): the engine's Op.Custom.
    | CustomCube

/// x ↦ x³ as a user-defined op: forward on tensors, VJP 3x²·g and JVP 3x²·t written with Node
/// ops (so they can be differentiated again). Covers the engine's Op.Custom in every property.
let cubeOp: CustomOp =
    CustomOp(
        "test_cube",
        Func<Tensor[], Tensor>(fun v -> v[0] * v[0] * v[0]),
        Func<Node[], Node, Node, Node[]>(fun x _ g -> [| g * (Node.square x[0] * 3.0) |]),
        Func<Node[], Node, Node[], Node>(fun x _ t -> if isNull t[0] then null else t[0] * (Node.square x[0] * 3.0))
    )

let private reductions = [ Reduction.Mean; Reduction.Sum; Reduction.None ]

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
      ClampMin 1.0
      Abs
      Sqrt
      Square
      Sin
      Cos
      Log1p
      Expm1
      Softplus
      Erf
      ClampMax -0.5
      ClampMax 0.0
      ClampMax 1.0
      Clamp(-0.5, 1.0)
      Clamp(0.0, 0.5)
      Reciprocal
      LeakyRelu 0.01
      LeakyRelu 0.2
      Elu 1.0
      Elu 0.5
      LogSigmoid
      Gelu false
      Gelu true
      Dropout(0.5, 1)
      Dropout(0.25, 2)
      SafeMultiply
      Maximum
      Minimum
      Where
      Reshape
      Flatten
      Unsqueeze
      SqueezeAxis
      Squeeze
      Permute
      Transpose
      BroadcastTo
      MatMul VectorVector
      MatMul VectorMatrix
      MatMul MatrixVector
      MatMul MatrixMatrix
      MatMul Batched
      MatMul VectorBatched
      MatMul BatchedVector
      Outer
      Linear
      Concat
      Stack
      Slice
      Narrow
      Select
      IndexSelect
      Gather
      SliceBackward
      IndexSelectBackward
      GatherBackward
      ReluBackward
      Sum true
      Sum false
      MeanAlong true
      MeanAlong false
      MaxAlong true
      MaxAlong false
      MinAlong true
      MinAlong false
      MaxAll
      MinAll
      Variance(true, true)
      Variance(true, false)
      Variance(false, true)
      Variance(false, false)
      Std(true, true)
      Std(true, false)
      Std(false, true)
      Std(false, false)
      LogSumExp true
      LogSumExp false
      LogSoftmax
      Softmax
      CustomCube ]
    @ [ for r in reductions do
            Mse r
            BinaryCrossEntropyWithLogits r
            Huber(1.2, r)

            for weighted in [ false; true ] do
                Nll(r, weighted)

                for smoothing in [ 0.0; 0.2 ] do
                    CrossEntropy(r, weighted, smoothing) ]
    @ [ Huber(0.4, Reduction.Mean) ]

/// The non-tensor arguments of one generated case. Axes and starts may be negative (counted from
/// the end), exactly as they are passed to the op.
type Params =
    | NoParams
    /// Expand / broadcastTo / sumTo: the target shape; reshape: the requested dims (one may be −1).
    | TargetShape of int[]
    | Axis of int
    /// permute: the permutation; transpose and flatten: the two axes; reductions: the axes.
    | Axes of int[]
    | AxisIndex of axis: int * index: int
    /// A slice of a tensor of shape <c>source</c>.
    | SliceOf of source: int[] * axis: int * start: int * length: int * step: int
    /// Integer indices (of shape indexShape) into a tensor of shape <c>source</c> along an axis.
    | IndexOf of source: int[] * axis: int * indexShape: int[] * indices: int64[] * indexType: DType
    /// Class labels and class weights (empty: no weights).
    | Labels of labels: int64[] * weights: float[] * labelType: DType
    /// where's condition: zero means "take the second operand".
    | Condition of shape: int[] * values: float[]

/// How the input shapes and parameters of a case are chosen.
type ShapeRule =
    /// One input of any shape (rank 0–3).
    | Elementwise
    /// Two inputs whose shapes broadcast together (often different).
    | Broadcasting
    /// One input that broadcasts to the target shape.
    | ExpandToTarget
    /// One input to which the target shape broadcasts.
    | SumToTarget
    /// Inputs of one and the same shape (losses: input and target).
    | SameShapes of count: int
    /// Two operands and a condition, all three broadcasting to a common shape.
    | WhereOperands
    /// One input and a shape with the same number of elements (one dimension may be −1).
    | ReshapeTarget
    /// One input and start ≤ end axes.
    | FlattenRange
    /// One input and an axis in [−(rank + 1), rank].
    | UnsqueezeAxis
    /// One input with a size-1 dimension and that axis.
    | SqueezeOneAxis
    /// One input of rank 0–4 and a random permutation of its axes.
    | Permutation
    /// One input of rank 1–4 and two axes (possibly equal).
    | TransposePair
    | MatMulShapes of MatMulKind
    /// Two vectors.
    | OuterVectors
    /// An input [n, in] (or [in], or [b, n, in]), a weight [out, in] and a bias [out].
    | LinearShapes
    /// 2–3 inputs equal except along the axis.
    | ConcatAlong
    /// 2–3 inputs of one shape and an axis in [−(rank + 1), rank].
    | StackAlong
    /// A valid slice (start, length ≥ 0, step ≥ 1; step 1 only for narrow).
    | SliceRange of stepOne: bool
    /// An axis and an index along it (either may be negative).
    | SelectIndex
    /// An index vector (repeats allowed, sometimes empty) along an axis.
    | IndexVector
    /// A gather index: the input's shape except along the axis, values in range.
    | GatherIndex
    /// The input has the shape of a slice's output (the slice's cotangent).
    | SliceCotangent
    /// The input has the shape of an indexSelect's output.
    | IndexVectorCotangent
    /// The input has the shape of a gather's output (the index's shape).
    | GatherCotangent
    /// One input of rank 1–3 and distinct axes whose sizes multiply to at least minCount.
    | ReduceAxes of minCount: int
    /// One input of rank 1–3 and an axis.
    | ReduceAxis
    /// Scores [N, C] with N labels in [0, C), and positive class weights when weighted.
    | Classification of weighted: bool

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
        /// One domain per input; variadic ops (concat, stack) use the last one for the rest.
        Domains: Domain list
        /// Builds the op on the inputs with the case's parameters.
        Build: Params -> Node[] -> Node
        /// Gradient-check options (the defaults except where a reason is written).
        Options: GradCheckOptions
        /// How the adjoint identity is checked.
        Adjoint: AdjointCheck
    }

let private anyValue = Interval(-3.0, 3.0)
let private positive = Interval(0.5, 3.0)
let private nonZero = AwayFrom(0.0, 0.5, 3.0)
/// |x| ≥ 0.1: relu, abs, leakyRelu, elu never within 0.1 of their kink (the step is 1e-6).
let private awayFromZero = AwayFrom(0.0, 0.1, 3.0)
/// Any two values at least 0.1 apart: unique maxima/minima (margin ≥ 0.1), variance ≥ 0.0025.
let private distinct = Distinct(0.2, 0.05)
/// maximum/minimum and huber operands: a on 0.4k + 0.2, b on 0.4k, each ± 0.05, so
/// a − b ∈ 0.4m + [0.1, 0.3]: |a − b| ≥ 0.1, and |a − b| is at least 0.1 from 0.4 and 1.2 too.
let private latticeA = Lattice(0.4, 0.2, 0.05, -3.0, 3.0)
let private latticeB = Lattice(0.4, 0.0, 0.05, -3.0, 3.0)

let private entry (rule: ShapeRule) (domains: Domain list) (build: Params -> Node[] -> Node) =
    { Shapes = rule
      Domains = domains
      Build = build
      Options = GradCheckOptions.Default
      Adjoint = Float64Tangents }

let private unary domain (f: Node -> Node) = entry Elementwise [ domain ] (fun _ xs -> f xs[0])

let private binary left right (f: Node -> Node -> Node) =
    entry Broadcasting [ left; right ] (fun _ xs -> f xs[0] xs[1])

let private wrongParams (expected: string) (p: Params) : 'T =
    invalidArg "params" (sprintf "expected %s parameters, got %A" expected p)

let private targetOf p = match p with TargetShape t -> t | _ -> wrongParams "TargetShape" p
let private axisOf p = match p with Axis a -> a | _ -> wrongParams "Axis" p
let private axesOf p = match p with Axes a -> a | _ -> wrongParams "Axes" p

/// An integer tensor (Int32 or Int64) of the given shape.
let indexTensor (dtype: DType) (shape: int[]) (values: int64[]) =
    if dtype = DType.Int32 then Tensor.FromArray(Array.map int values, shape) else Tensor.FromArray(values, shape)

/// The cotangent of <paramref name="forward"/> at a zero input of shape <paramref name="source"/>,
/// recorded (createGraph = true) with the node <paramref name="seed"/> as the output's cotangent:
/// the op's VJP as a differentiable function of the seed.
let recordedBackward (forward: Node -> Node) (source: int[]) (seed: Node) : Node =
    let z = Node.leaf (Tensor.Zeros(Shape.Of source, seed.DType))
    (Reverse.gradientsWith true seed (forward z)).[z]

let private labelsOf p =
    match p with
    | Labels(labels, weights, dtype) ->
        indexTensor dtype [| labels.Length |] labels, (if weights.Length = 0 then null else Tensor.FromArray(weights, weights.Length))
    | _ -> wrongParams "Labels" p

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
    | Relu -> unary awayFromZero Node.relu
    | Sigmoid -> unary anyValue Node.sigmoid
    | Tanh -> unary anyValue Node.tanh
    | SumAll -> unary anyValue Node.sumAll
    | Mean -> unary anyValue Node.mean
    | Expand -> entry ExpandToTarget [ anyValue ] (fun p xs -> Node.expand (Shape.Of(targetOf p)) xs[0])
    | SumTo -> entry SumToTarget [ anyValue ] (fun p xs -> Node.sumTo (Shape.Of(targetOf p)) xs[0])
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
    // ---- elementwise ----
    | Abs -> unary awayFromZero Node.abs
    // sqrt and log1p stay well inside their domains (x ≥ 0.2, x ≥ −0.45 > −0.5).
    | Sqrt -> unary (Interval(0.2, 3.0)) Node.sqrt
    | Square -> unary anyValue Node.square
    | Sin -> unary (Interval(-4.0, 4.0)) Node.sin
    | Cos -> unary (Interval(-4.0, 4.0)) Node.cos
    | Log1p -> unary (Interval(-0.45, 3.0)) Node.log1p
    | Expm1 -> unary anyValue Node.expm1
    | Softplus -> unary (Interval(-6.0, 6.0)) Node.softplus
    | Erf -> unary anyValue Node.erf
    | ClampMax upper -> unary (AwayFrom(upper, 0.1, 3.0)) (Node.clampMax upper)
    // At least 0.1 from both bounds.
    | Clamp(lower, upper) -> unary (Avoiding([ lower; upper ], 0.1, lower - 3.0, upper + 3.0)) (Node.clamp lower upper)
    | Reciprocal -> unary nonZero Node.reciprocal
    | LeakyRelu slope -> unary awayFromZero (Node.leakyRelu slope)
    | Elu alpha -> unary awayFromZero (Node.elu alpha)
    | LogSigmoid -> unary (Interval(-6.0, 6.0)) Node.logSigmoid
    | Gelu tanhApproximation -> unary anyValue (Node.gelu tanhApproximation)
    | Dropout(p, seed) -> unary anyValue (fun x -> Node.dropout p (Random seed) true x)
    | SafeMultiply -> binary anyValue anyValue Node.safeMultiply
    | Maximum -> binary latticeA latticeB Node.maximum
    | Minimum -> binary latticeA latticeB Node.minimum
    | Where ->
        entry WhereOperands [ anyValue; anyValue ] (fun p xs ->
            match p with
            | Condition(shape, values) -> Node.where (tensorOf shape values) xs[0] xs[1]
            | _ -> wrongParams "Condition" p)
    // ---- shapes ----
    | Reshape -> entry ReshapeTarget [ anyValue ] (fun p xs -> Node.reshape (targetOf p) xs[0])
    | Flatten -> entry FlattenRange [ anyValue ] (fun p xs -> let a = axesOf p in Node.flatten a[0] a[1] xs[0])
    | Unsqueeze -> entry UnsqueezeAxis [ anyValue ] (fun p xs -> Node.unsqueeze (axisOf p) xs[0])
    | SqueezeAxis -> entry SqueezeOneAxis [ anyValue ] (fun p xs -> Node.squeezeAxis (axisOf p) xs[0])
    | Squeeze -> unary anyValue Node.squeeze
    | Permute -> entry Permutation [ anyValue ] (fun p xs -> Node.permute (axesOf p) xs[0])
    | Transpose -> entry TransposePair [ anyValue ] (fun p xs -> let a = axesOf p in Node.transpose a[0] a[1] xs[0])
    | BroadcastTo -> entry ExpandToTarget [ anyValue ] (fun p xs -> Node.broadcastTo (Shape.Of(targetOf p)) xs[0])
    | MatMul kind -> entry (MatMulShapes kind) [ anyValue; anyValue ] (fun _ xs -> Node.matmul xs[0] xs[1])
    | Outer -> entry OuterVectors [ anyValue; anyValue ] (fun _ xs -> Node.outer xs[0] xs[1])
    | Linear -> entry LinearShapes [ anyValue; anyValue; anyValue ] (fun _ xs -> Node.linear xs[0] xs[1] xs[2])
    | Concat -> entry ConcatAlong [ anyValue ] (fun p xs -> Node.concat (axisOf p) xs)
    | Stack -> entry StackAlong [ anyValue ] (fun p xs -> Node.stack (axisOf p) xs)
    | Slice ->
        entry (SliceRange false) [ anyValue ] (fun p xs ->
            match p with
            | SliceOf(_, axis, start, length, step) -> Node.slice axis start length step xs[0]
            | _ -> wrongParams "SliceOf" p)
    | Narrow ->
        entry (SliceRange true) [ anyValue ] (fun p xs ->
            match p with
            | SliceOf(_, axis, start, length, _) -> Node.narrow axis start length xs[0]
            | _ -> wrongParams "SliceOf" p)
    | Select ->
        entry SelectIndex [ anyValue ] (fun p xs ->
            match p with
            | AxisIndex(axis, index) -> Node.select axis index xs[0]
            | _ -> wrongParams "AxisIndex" p)
    | IndexSelect ->
        entry IndexVector [ anyValue ] (fun p xs ->
            match p with
            | IndexOf(_, axis, shape, indices, dtype) -> Node.indexSelect axis (indexTensor dtype shape indices) xs[0]
            | _ -> wrongParams "IndexOf" p)
    | Gather ->
        entry GatherIndex [ anyValue ] (fun p xs ->
            match p with
            | IndexOf(_, axis, shape, indices, dtype) -> Node.gather axis (indexTensor dtype shape indices) xs[0]
            | _ -> wrongParams "IndexOf" p)
    | SliceBackward ->
        entry SliceCotangent [ anyValue ] (fun p xs ->
            match p with
            | SliceOf(source, axis, start, length, step) ->
                recordedBackward (Node.slice axis start length step) source xs[0]
            | _ -> wrongParams "SliceOf" p)
    | IndexSelectBackward ->
        entry IndexVectorCotangent [ anyValue ] (fun p xs ->
            match p with
            | IndexOf(source, axis, shape, indices, dtype) ->
                recordedBackward (Node.indexSelect axis (indexTensor dtype shape indices)) source xs[0]
            | _ -> wrongParams "IndexOf" p)
    | GatherBackward ->
        entry GatherCotangent [ anyValue ] (fun p xs ->
            match p with
            | IndexOf(source, axis, shape, indices, dtype) ->
                recordedBackward (Node.gather axis (indexTensor dtype shape indices)) source xs[0]
            | _ -> wrongParams "IndexOf" p)
    // Linear in the cotangent g, constant in x (kept 0.1 away from the kink).
    | ReluBackward ->
        entry (SameShapes 2) [ anyValue; awayFromZero ] (fun _ xs ->
            // Both in the promoted dtype; the result is the cotangent at x. With x a constant (finite
            // differences) relu(x) has no backward pass: the same function is then g·step(x) in two ops.
            let dtype = Tensor.promote (xs[0].Shape.Rank, xs[0].DType) (xs[1].Shape.Rank, xs[1].DType)
            let g, x = Node.cast dtype xs[0], Node.cast dtype xs[1]

            if x.RequiresGrad then (Reverse.gradientsWrt true g (Node.relu x) [| x |])[0]
            else Node.safeMultiply g (Node.step 0.0 0.0 x))
    // ---- reductions ----
    | Sum keepDim -> entry (ReduceAxes 1) [ anyValue ] (fun p xs -> Node.sum (axesOf p) keepDim xs[0])
    | MeanAlong keepDim -> entry (ReduceAxes 1) [ anyValue ] (fun p xs -> Node.meanAlong (axesOf p) keepDim xs[0])
    | MaxAlong keepDim -> entry ReduceAxis [ distinct ] (fun p xs -> Node.maxAlong (axisOf p) keepDim xs[0])
    | MinAlong keepDim -> entry ReduceAxis [ distinct ] (fun p xs -> Node.minAlong (axisOf p) keepDim xs[0])
    | MaxAll -> unary distinct Node.maxAll
    | MinAll -> unary distinct Node.minAll
    // Unbiased needs n ≥ 2 along the axes; biased variance is also tested at n = 1 (value 0).
    | Variance(unbiased, keepDim) ->
        entry (ReduceAxes(if unbiased then 2 else 1)) [ anyValue ] (fun p xs -> Node.variance (axesOf p) unbiased keepDim xs[0])
    // std = sqrt(variance) has an infinite slope at variance 0: n ≥ 2 and pairwise-separated values.
    | Std(unbiased, keepDim) -> entry (ReduceAxes 2) [ distinct ] (fun p xs -> Node.std (axesOf p) unbiased keepDim xs[0])
    | LogSumExp keepDim -> entry (ReduceAxes 1) [ anyValue ] (fun p xs -> Node.logSumExp (axesOf p) keepDim xs[0])
    | LogSoftmax -> entry ReduceAxis [ anyValue ] (fun p xs -> Node.logSoftmax (axisOf p) xs[0])
    | Softmax -> entry ReduceAxis [ anyValue ] (fun p xs -> Node.softmax (axisOf p) xs[0])
    // ---- losses ----
    | Mse reduction -> entry (SameShapes 2) [ anyValue; anyValue ] (fun _ xs -> Loss.mse reduction xs[0] xs[1])
    // d = input − target is at least 0.1 from 0 (abs) and from ±delta (the second derivative jumps there).
    | Huber(delta, reduction) ->
        entry (SameShapes 2) [ latticeA; latticeB ] (fun _ xs -> Loss.huber delta reduction xs[0] xs[1])
    | BinaryCrossEntropyWithLogits reduction ->
        entry (SameShapes 2) [ anyValue; Interval(0.0, 1.0) ] (fun _ xs -> Loss.binaryCrossEntropyWithLogits reduction xs[0] xs[1])
    | Nll(reduction, weighted) ->
        entry (Classification weighted) [ anyValue ] (fun p xs ->
            let labels, weights = labelsOf p
            Loss.nll reduction weights xs[0] labels)
    | CrossEntropy(reduction, weighted, smoothing) ->
        entry (Classification weighted) [ anyValue ] (fun p xs ->
            let labels, weights = labelsOf p
            Loss.crossEntropy reduction weights smoothing xs[0] labels)
    // ---- user-defined ----
    | CustomCube -> unary anyValue (fun x -> Node.custom cubeOp [| x |])

/// One generated instance of an op: input shapes and values, parameters, and a seed for the random
/// cotangents, directions and (where a check needs them) dtypes.
type OpCase =
    { Op: TestOp
      Shapes: int[][]
      Values: float[][]
      Params: Params
      Seed: int }

    /// The inputs as float64 tensors.
    member c.Inputs: Tensor[] = Array.map2 tensorOf c.Shapes c.Values
    /// The op applied to nodes.
    member c.Build: Node[] -> Node = (spec c.Op).Build c.Params
    /// The gradient-check options of the op, with this case's seed.
    member c.Options = { (spec c.Op).Options with Seed = c.Seed }

/// The domain of input i (variadic ops repeat the last domain).
let domainOf (s: OpSpec) (i: int) : Domain =
    let domains = List.toArray s.Domains
    domains[min i (domains.Length - 1)]

// ---------------------------------------------------------------------------------------------
// Shapes and parameters.

let private shapeOfRank (lo: int) (hi: int) (maxDim: int) : Gen<int[]> =
    gen {
        let! rank = Gen.choose (lo, hi)
        return! Gen.arrayOfLength rank (Gen.choose (1, maxDim))
    }

/// The axis as given, or (one time in three) in its negative form.
let private maybeNegative (rank: int) (axis: int) : Gen<int> =
    Gen.frequency [ 2, Gen.constant axis; 1, Gen.constant (axis - rank) ]

/// An axis or index in [−n, n) back in [0, n).
let normalize (n: int) (i: int) = if i < 0 then i + n else i

let private divisors (n: int) = [ for d in 1..n do if n % d = 0 then d ]

/// Dimensions with n elements (rank 0 only for n = 1), one of them sometimes −1.
let private reshapeDimsGen (n: int) : Gen<int[]> =
    gen {
        let! rank = Gen.choose ((if n = 1 then 0 else 1), 4)

        let rec dims (left: int) (k: int) (acc: int list) : Gen<int list> =
            if k = 1 then Gen.constant (List.rev (left :: acc))
            else
                gen {
                    let! d = Gen.elements (divisors left)
                    return! dims (left / d) (k - 1) (d :: acc)
                }

        let! ds = if rank = 0 then Gen.constant [] else dims n rank []
        let ds = List.toArray ds
        let! inferAt = if ds.Length = 0 then Gen.constant -1 else Gen.frequency [ 2, Gen.constant -1; 1, Gen.choose (0, ds.Length - 1) ]
        return if inferAt >= 0 then Array.updateAt inferAt -1 ds else ds
    }

/// Batch shapes for batched matmul: broadcast-compatible, at least one of them non-empty.
let private batchPairGen: Gen<int[] * int[]> =
    gen {
        let! rank = Gen.choose (1, 2)
        let! out = Gen.arrayOfLength rank (Gen.choose (1, 3))
        let! a = broadcastableTo out
        let! b = broadcastableTo out
        return if a.Length = 0 && b.Length = 0 then out, b else a, b
    }

let private matmulShapesGen (kind: MatMulKind) : Gen<int[][]> =
    gen {
        let! m = Gen.choose (1, 4)
        let! k = Gen.choose (1, 4)
        let! n = Gen.choose (1, 4)
        let! batchA, batchB = batchPairGen

        return
            match kind with
            | VectorVector -> [| [| k |]; [| k |] |]
            | VectorMatrix -> [| [| k |]; [| k; n |] |]
            | MatrixVector -> [| [| m; k |]; [| k |] |]
            | MatrixMatrix -> [| [| m; k |]; [| k; n |] |]
            | Batched -> [| Array.append batchA [| m; k |]; Array.append batchB [| k; n |] |]
            | VectorBatched -> [| [| k |]; Array.append (if batchB.Length = 0 then batchA else batchB) [| k; n |] |]
            | BatchedVector -> [| Array.append (if batchA.Length = 0 then batchB else batchA) [| m; k |]; [| k |] |]
    }

/// A slice of a random shape: the source, and SliceOf with the axis and start as passed to slice.
let private sliceGen (stepOne: bool) : Gen<int[] * Params> =
    gen {
        let! baseShape = shapeOfRank 1 3 4
        let! axis = Gen.choose (0, baseShape.Length - 1)
        let! size = Gen.choose (1, 6)
        let source = Array.updateAt axis size baseShape
        let! step = if stepOne then Gen.constant 1 else Gen.choose (1, 3)
        let! start = Gen.choose (0, size - 1)
        let longest = (size - 1 - start) / step + 1
        let! length = Gen.frequency [ 1, Gen.constant 0; 9, Gen.choose (1, longest) ]
        let! a = maybeNegative source.Length axis
        let! s = maybeNegative size start
        return source, SliceOf(source, a, s, length, step)
    }

/// Indices and labels come as Int64 or Int32 tensors (both are accepted).
let private indexTypeGen: Gen<DType> = Gen.elements [ DType.Int64; DType.Int32 ]

/// An index vector (repeats allowed, empty one time in ten) into a random shape along an axis.
let private indexVectorGen: Gen<int[] * Params> =
    gen {
        let! source = shapeOfRank 1 3 4
        let! axis = Gen.choose (0, source.Length - 1)
        let! count = Gen.frequency [ 1, Gen.constant 0; 9, Gen.choose (1, 5) ]
        let! indices = Gen.arrayOfLength count (Gen.choose (0, source[axis] - 1))
        let! a = maybeNegative source.Length axis
        let! dtype = indexTypeGen
        return source, IndexOf(source, a, [| count |], Array.map int64 indices, dtype)
    }

/// A gather index: the source's shape except along the axis (1–4 there), values in range.
let private gatherIndexGen: Gen<int[] * Params> =
    gen {
        let! source = shapeOfRank 1 3 4
        let! axis = Gen.choose (0, source.Length - 1)
        let! along = Gen.choose (1, 4)
        let shape = Array.updateAt axis along source
        let! indices = Gen.arrayOfLength (numel shape) (Gen.choose (0, source[axis] - 1))
        let! a = maybeNegative source.Length axis
        let! dtype = indexTypeGen
        return source, IndexOf(source, a, shape, Array.map int64 indices, dtype)
    }

/// The output shape of the slice / index op described by the parameters.
let forwardOutputShape (p: Params) : int[] =
    match p with
    | SliceOf(source, axis, _, length, _) -> Array.updateAt (normalize source.Length axis) length source
    // gather: the index's shape; indexSelect (a vector index): the source with the axis resized
    // (for a vector source the two rules agree).
    | IndexOf(source, _, shape, _, _) when shape.Length = source.Length -> shape
    | IndexOf(source, axis, shape, _, _) -> Array.updateAt (normalize source.Length axis) shape[0] source
    | _ -> wrongParams "SliceOf or IndexOf" p

/// Input shapes and parameters for a rule.
let structureGen (rule: ShapeRule) : Gen<int[][] * Params> =
    match rule with
    | Elementwise -> shapeGen |> Gen.map (fun s -> [| s |], NoParams)
    | Broadcasting -> broadcastPairGen |> Gen.map (fun (a, b) -> [| a; b |], NoParams)
    | ExpandToTarget ->
        gen {
            let! big = shapeGen
            let! small = broadcastableTo big
            return [| small |], TargetShape big
        }
    | SumToTarget ->
        gen {
            let! big = shapeGen
            let! small = broadcastableTo big
            return [| big |], TargetShape small
        }
    | SameShapes count -> shapeGen |> Gen.map (fun s -> Array.create count s, NoParams)
    | WhereOperands ->
        gen {
            let! out = shapeGen
            let! a = broadcastableTo out
            let! b = broadcastableTo out
            let! c = broadcastableTo out
            let! values = Gen.arrayOfLength (numel c) (Gen.elements [ 0.0; 0.0; 1.0; -2.0; 0.5 ])
            return [| a; b |], Condition(c, values)
        }
    | ReshapeTarget ->
        gen {
            let! s = shapeGen
            let! dims = reshapeDimsGen (numel s)
            return [| s |], TargetShape dims
        }
    | FlattenRange ->
        gen {
            let! s = shapeGen
            let r = s.Length

            if r = 0 then
                return [| s |], Axes [| 0; 0 |]
            else
                let! first = Gen.choose (0, r - 1)
                let! last = Gen.choose (first, r - 1)
                let! a = maybeNegative r first
                let! b = maybeNegative r last
                return [| s |], Axes [| a; b |]
        }
    | UnsqueezeAxis ->
        gen {
            let! s = shapeGen
            let! axis = Gen.choose (0, s.Length)
            let! a = maybeNegative (s.Length + 1) axis
            return [| s |], Axis a
        }
    | SqueezeOneAxis ->
        gen {
            let! baseShape = shapeGen
            let! at = Gen.choose (0, baseShape.Length)
            let s = Array.insertAt at 1 baseShape
            let! a = maybeNegative s.Length at
            return [| s |], Axis a
        }
    | Permutation ->
        gen {
            let! s = shapeOfRank 0 4 3
            let! perm = Gen.shuffle [ 0 .. s.Length - 1 ]
            let! axes = perm |> Array.map (maybeNegative s.Length) |> Gen.sequenceToArray
            return [| s |], Axes axes
        }
    | TransposePair ->
        gen {
            let! s = shapeOfRank 1 4 3
            let! a0 = Gen.choose (0, s.Length - 1) |> Gen.bind (maybeNegative s.Length)
            let! a1 = Gen.choose (0, s.Length - 1) |> Gen.bind (maybeNegative s.Length)
            return [| s |], Axes [| a0; a1 |]
        }
    | MatMulShapes kind -> matmulShapesGen kind |> Gen.map (fun shapes -> shapes, NoParams)
    | OuterVectors -> Gen.map2 (fun m n -> [| [| m |]; [| n |] |], NoParams) (Gen.choose (1, 4)) (Gen.choose (1, 4))
    | LinearShapes ->
        gen {
            let! inputs = Gen.choose (1, 4)
            let! outputs = Gen.choose (1, 4)
            let! leading = Gen.elements [ [||]; [| 3 |]; [| 2; 3 |] ]
            return [| Array.append leading [| inputs |]; [| outputs; inputs |]; [| outputs |] |], NoParams
        }
    | ConcatAlong ->
        gen {
            let! baseShape = shapeOfRank 1 3 4
            let! axis = Gen.choose (0, baseShape.Length - 1)
            let! count = Gen.choose (2, 3)
            let! sizes = Gen.arrayOfLength count (Gen.choose (1, 3))
            let! a = maybeNegative baseShape.Length axis
            return sizes |> Array.map (fun d -> Array.updateAt axis d baseShape), Axis a
        }
    | StackAlong ->
        gen {
            let! s = shapeGen
            let! count = Gen.choose (2, 3)
            let! axis = Gen.choose (0, s.Length)
            let! a = maybeNegative (s.Length + 1) axis
            return Array.create count s, Axis a
        }
    | SliceRange stepOne -> sliceGen stepOne |> Gen.map (fun (source, p) -> [| source |], p)
    | SelectIndex ->
        gen {
            let! s = shapeOfRank 1 3 4
            let! axis = Gen.choose (0, s.Length - 1)
            let! index = Gen.choose (0, s[axis] - 1)
            let! a = maybeNegative s.Length axis
            let! i = maybeNegative s[axis] index
            return [| s |], AxisIndex(a, i)
        }
    | IndexVector -> indexVectorGen |> Gen.map (fun (source, p) -> [| source |], p)
    | GatherIndex -> gatherIndexGen |> Gen.map (fun (source, p) -> [| source |], p)
    | SliceCotangent -> sliceGen false |> Gen.map (fun (_, p) -> [| forwardOutputShape p |], p)
    | IndexVectorCotangent -> indexVectorGen |> Gen.map (fun (_, p) -> [| forwardOutputShape p |], p)
    | GatherCotangent -> gatherIndexGen |> Gen.map (fun (_, p) -> [| forwardOutputShape p |], p)
    | ReduceAxes minCount ->
        gen {
            let! s = shapeOfRank 1 3 4
            let r = s.Length
            let! first = Gen.choose (0, r - 1)
            let! others = Gen.subListOf [ 0 .. r - 1 ]
            let! axes = Gen.shuffle (List.distinct (first :: others))
            let count = axes |> Array.fold (fun n a -> n * s[a]) 1
            let! grown = Gen.choose (max 2 minCount, 4)
            let s = if count < minCount then Array.updateAt first grown s else s
            let! passed = axes |> Array.map (maybeNegative r) |> Gen.sequenceToArray
            return [| s |], Axes passed
        }
    | ReduceAxis ->
        gen {
            let! s = shapeOfRank 1 3 4
            let! axis = Gen.choose (0, s.Length - 1)
            let! a = maybeNegative s.Length axis
            return [| s |], Axis a
        }
    | Classification weighted ->
        gen {
            let! n = Gen.choose (1, 4)
            let! c = Gen.choose (1, 5)
            let! labels = Gen.arrayOfLength n (Gen.choose (0, c - 1))
            let! weights = if weighted then Gen.arrayOfLength c (floatIn 0.2 2.0) else Gen.constant [||]
            let! dtype = indexTypeGen
            return [| [| n; c |] |], Labels(Array.map int64 labels, weights, dtype)
        }

/// A random case of the given op, with values in its domains.
let caseGen (op: TestOp) : Gen<OpCase> =
    let s = spec op

    gen {
        let! shapes, p = structureGen s.Shapes

        let! values =
            shapes
            |> Array.mapi (fun i dims -> domainArrayGen (domainOf s i) (numel dims))
            |> Gen.sequenceToArray

        let! seed = Gen.choose (0, 1_000_000)

        return
            { Op = op
              Shapes = shapes
              Values = values
              Params = p
              Seed = seed }
    }

/// Shrinks a case while keeping it valid: values to the domain's canonical tensor, and (for
/// one-input elementwise-shaped ops) the input to a scalar.
let shrinkCase (c: OpCase) : seq<OpCase> =
    let s = spec c.Op

    seq {
        if s.Shapes = Elementwise && c.Shapes[0].Length > 0 then
            yield { c with Shapes = [| [||] |]; Values = [| [| c.Values[0][0] |] |] }

        let simple = c.Values |> Array.mapi (fun i v -> canonicalArray (domainOf s i) v.Length)

        if simple <> c.Values then
            yield { c with Values = simple }
    }

/// Cases of any op in <see cref="allOps"/>.
let anyCaseGen: Gen<OpCase> = Gen.elements allOps |> Gen.bind caseGen

/// One case of every op in <see cref="allOps"/>, in order: the table-driven properties check all of
/// them in each test, so every op is exercised MaxTest times per property whatever the size of the
/// table (with a uniformly drawn op, 400 tests over the 130-odd entries would miss about seven of
/// them per run).
[<StructuredFormatDisplay("{Display}")>]
type OpSuite =
    | OpSuite of OpCase[]

    /// One case in full; a whole suite only by its size (the failing cases are in the label).
    member s.Display =
        let (OpSuite cases) = s
        if cases.Length = 1 then sprintf "OpSuite [| %A |]" cases[0] else sprintf "OpSuite(%d cases, one per op)" cases.Length

    override s.ToString() = s.Display

let suiteGen: Gen<OpSuite> = allOps |> List.map caseGen |> Gen.sequenceToArray |> Gen.map OpSuite

/// A failing suite shrinks to one of its cases (FsCheck keeps the first candidate that still fails),
/// and that case then shrinks as <see cref="shrinkCase"/>.
let shrinkSuite (OpSuite cases) : seq<OpSuite> =
    if cases.Length > 1 then cases |> Seq.map (fun c -> OpSuite [| c |])
    elif cases.Length = 1 then shrinkCase cases[0] |> Seq.map (fun c -> OpSuite [| c |])
    else Seq.empty

/// Registers <see cref="OpCase"/> and <see cref="OpSuite"/> for properties.
type OpArbs =
    static member OpCase() : Arbitrary<OpCase> = Arb.fromGenShrink (anyCaseGen, shrinkCase)
    static member OpSuite() : Arbitrary<OpSuite> = Arb.fromGenShrink (suiteGen, shrinkSuite)
