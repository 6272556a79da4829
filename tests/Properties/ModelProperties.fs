/// Properties of the new tensor ops against independent models: matmul against a naive sum of
/// products (every NumPy case, batch dimensions broadcasting), shape round trips, the adjoint pairs
/// slice/sliceScatter, indexSelect/indexAdd and gather/scatterAdd, softmax and logSoftmax at huge
/// logits, logSumExp against log(sum(exp)), argMax/argMin against a scan, and where never letting a
/// NaN from the branch not taken into the gradient.
module TinyTorch.Properties.ModelProperties

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Properties.Generators
open TinyTorch.Properties.Ops

/// Row-major multi-index of a flat index.
let private unravel (dims: int[]) (flat: int) : int[] =
    let index = Array.zeroCreate dims.Length
    let mutable rest = flat

    for d in dims.Length - 1 .. -1 .. 0 do
        index[d] <- rest % dims[d]
        rest <- rest / dims[d]

    index

/// Flat index of a row-major multi-index.
let private ravel (dims: int[]) (index: int[]) : int =
    let mutable flat = 0

    for d in 0 .. dims.Length - 1 do
        flat <- flat * dims[d] + index[d]

    flat

/// For each position of the kept axes (in row-major order of the keepDim result), the flat indices
/// of the elements reduced into it.
let private groups (dims: int[]) (axes: int[]) : int[][] =
    let outDims = dims |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d)
    let buckets = Array.init (numel outDims) (fun _ -> Collections.Generic.List<int>())

    for flat in 0 .. numel dims - 1 do
        let index = unravel dims flat |> Array.mapi (fun i c -> if Array.contains i axes then 0 else c)
        buckets[ravel outDims index].Add flat

    buckets |> Array.map (fun b -> b.ToArray())

let private finite (t: Tensor) = t.ToArray() |> Array.forall Double.IsFinite

let private randomValues (rng: Random) (n: int) = Array.init n (fun _ -> rng.NextDouble() * 2.0 - 1.0)

// ---------------------------------------------------------------------------------------------
// matmul against the definition.

/// NumPy matmul by the definition, in float64: a 1-D first operand is a row [1, k], a 1-D second
/// operand a column [k, 1] (that dimension then dropped), batch dimensions right-aligned and
/// broadcast. Also returns Σ|a·b| per element (the scale of the rounding error).
let private naiveMatmul (sa: int[]) (a: float[]) (sb: int[]) (b: float[]) : int[] * float[] * float[] =
    let a2 = if sa.Length = 1 then [| 1; sa[0] |] else sa
    let b2 = if sb.Length = 1 then [| sb[0]; 1 |] else sb
    let m, k, n = a2[a2.Length - 2], a2[a2.Length - 1], b2[b2.Length - 1]
    let batchA, batchB = a2[.. a2.Length - 3], b2[.. b2.Length - 3]
    let rank = max batchA.Length batchB.Length
    let pad (s: int[]) = Array.append (Array.create (rank - s.Length) 1) s
    let pa, pb = pad batchA, pad batchB
    let batch = Array.map2 max pa pb
    let c = Array.zeroCreate (numel batch * m * n)
    let scale = Array.zeroCreate c.Length

    for bi in 0 .. numel batch - 1 do
        let index = unravel batch bi
        let ia = ravel pa (Array.map2 (fun d i -> if d = 1 then 0 else i) pa index)
        let ib = ravel pb (Array.map2 (fun d i -> if d = 1 then 0 else i) pb index)

        for i in 0 .. m - 1 do
            for j in 0 .. n - 1 do
                for p in 0 .. k - 1 do
                    let term = a[(ia * m + i) * k + p] * b[(ib * k + p) * n + j]
                    c[(bi * m + i) * n + j] <- c[(bi * m + i) * n + j] + term
                    scale[(bi * m + i) * n + j] <- scale[(bi * m + i) * n + j] + abs term

    let dims = Array.concat [ batch; (if sa.Length = 1 then [||] else [| m |]); (if sb.Length = 1 then [||] else [| n |]) ]
    dims, c, scale

type MatMulCase =
    { Kind: MatMulKind
      A: int[]
      B: int[]
      Single: bool
      Seed: int }

let private matmulCaseGen: Gen<MatMulCase> =
    gen {
        let! kind = Gen.elements [ VectorVector; VectorMatrix; MatrixVector; MatrixMatrix; Batched; VectorBatched; BatchedVector ]
        // Up to 9: past the GEMM kernel's smallest register blocks, so edge tiles are exercised.
        let! m = Gen.choose (1, 9)
        let! k = Gen.choose (1, 9)
        let! n = Gen.choose (1, 9)
        let! rank = Gen.choose (1, 2)
        let! out = Gen.arrayOfLength rank (Gen.choose (1, 3))
        let! ba = broadcastableTo out
        let! bb = broadcastableTo out
        let ba = if ba.Length = 0 && bb.Length = 0 then out else ba
        let some = if bb.Length > 0 then bb else ba
        let! single = Gen.elements [ false; true ]
        let! seed = Gen.choose (0, 1_000_000)

        let a, b =
            match kind with
            | VectorVector -> [| k |], [| k |]
            | VectorMatrix -> [| k |], [| k; n |]
            | MatrixVector -> [| m; k |], [| k |]
            | MatrixMatrix -> [| m; k |], [| k; n |]
            | Batched -> Array.append ba [| m; k |], Array.append bb [| k; n |]
            | VectorBatched -> [| k |], Array.append some [| k; n |]
            | BatchedVector -> Array.append some [| m; k |], [| k |]

        return
            { Kind = kind
              A = a
              B = b
              Single = single
              Seed = seed }
    }

[<Property(MaxTest = 300)>]
let ``matmul equals the sum of products for every NumPy case, batch dimensions broadcasting`` () =
    Prop.forAll (Arb.fromGen matmulCaseGen) (fun c ->
        let rng = Random c.Seed
        let round = if c.Single then Array.map (fun v -> float (float32 v)) else id
        let av, bv = round (randomValues rng (numel c.A)), round (randomValues rng (numel c.B))
        let make = if c.Single then tensor32Of else tensorOf
        let y = (Node.matmul (Node.constant (make c.A av)) (Node.constant (make c.B bv))).Value
        let dims, expected, scale = naiveMatmul c.A av c.B bv
        // float64: a few ulp per term; float32: 2^-24 per rounding, k ≤ 9 terms.
        let rtol = if c.Single then 1e-6 else 1e-14

        (y.Shape.ToArray() = dims
         && y.DType = (if c.Single then DType.Float32 else DType.Float64)
         && Array.forall id (Array.init expected.Length (fun i -> abs (y.GetFlat i - expected[i]) <= 1e-300 + rtol * 10.0 * scale[i])))
        |> Prop.label (sprintf "%A\ngot %O, expected shape %A values %A" c y dims expected)
        |> Prop.classify true (sprintf "%A" c.Kind))

// ---------------------------------------------------------------------------------------------
// Shape round trips (and permute against its index model, so that a wrong permute cannot be
// undone by an equally wrong inverse).

let private shapeCaseGen (rule: ShapeRule) : Gen<int[] * Params * float[]> =
    gen {
        let! shapes, p = structureGen rule
        let! values = Gen.arrayOfLength (numel shapes[0]) (floatIn -1.0 1.0)
        return shapes[0], p, values
    }

let private sameTensor (a: Tensor) (b: Tensor) = bitwiseEqual a b

[<Property(MaxTest = 200)>]
let ``reshape there and back is the identity`` () =
    Prop.forAll (Arb.fromGen (shapeCaseGen ReshapeTarget)) (fun (dims, p, values) ->
        let target = match p with TargetShape t -> t | _ -> failwith "reshape params"
        let x = Node.constant (tensorOf dims values)
        let y = Node.reshape target x
        let back = Node.reshape dims y
        let inferred = target |> Array.map (fun d -> if d = -1 then numel dims / (target |> Array.filter ((<>) -1) |> Array.fold (*) 1) else d)

        (y.Shape.ToArray() = inferred && y.Value.ToArray() = values && sameTensor back.Value x.Value)
        |> Prop.label (sprintf "%A -> %A: %O, back %O" dims target y.Shape back.Shape))

[<Property(MaxTest = 200)>]
let ``flatten then reshape back, and unsqueeze then squeezeAxis, are identities`` () =
    let gen = Gen.zip (shapeCaseGen FlattenRange) (shapeCaseGen UnsqueezeAxis)

    Prop.forAll (Arb.fromGen gen) (fun ((dims, p, values), (dims2, p2, values2)) ->
        let axes = match p with Axes a -> a | _ -> failwith "flatten params"
        let axis = match p2 with Axis a -> a | _ -> failwith "unsqueeze params"
        let x = Node.constant (tensorOf dims values)
        let flat = Node.flatten axes[0] axes[1] x
        let r = dims.Length
        let expectedFlat =
            if r = 0 then [| 1 |]
            else
                let s, e = normalize r axes[0], normalize r axes[1]
                Array.concat [ dims[.. s - 1]; [| numel dims[s..e] |]; dims[e + 1 ..] ]
        let x2 = Node.constant (tensorOf dims2 values2)
        let u = Node.unsqueeze axis x2
        let at = normalize (dims2.Length + 1) axis

        (flat.Shape.ToArray() = expectedFlat
         && sameTensor (Node.reshape dims flat).Value x.Value
         && u.Shape.ToArray() = Array.insertAt at 1 dims2
         && sameTensor (Node.squeezeAxis axis u).Value x2.Value
         && sameTensor (Node.squeeze u).Value (Node.squeeze x2).Value)
        |> Prop.label (sprintf "flatten %A %A -> %O; unsqueeze %A at %d -> %O" dims axes flat.Shape dims2 axis u.Shape))

[<Property(MaxTest = 200)>]
let ``permute follows its index model and the inverse permutation undoes it`` () =
    Prop.forAll (Arb.fromGen (shapeCaseGen Permutation)) (fun (dims, p, values) ->
        let perm = match p with Axes a -> a |> Array.map (normalize dims.Length) | _ -> failwith "permute params"
        let passed = match p with Axes a -> a | _ -> perm
        let inverse = Array.zeroCreate perm.Length
        perm |> Array.iteri (fun i a -> inverse[a] <- i)
        let x = Node.constant (tensorOf dims values)
        let y = Node.permute passed x
        let outDims = perm |> Array.map (fun a -> dims[a])
        // y[i] = x[j] with j[perm[d]] = i[d].
        let modelOk =
            y.Shape.ToArray() = outDims
            && Seq.forall
                (fun flat ->
                    let i = unravel outDims flat
                    let j = Array.zeroCreate dims.Length
                    perm |> Array.iteri (fun d a -> j[a] <- i[d])
                    y.Value.GetFlat flat = values[ravel dims j])
                (seq { 0 .. numel dims - 1 })

        (modelOk && sameTensor (Node.permute inverse y).Value x.Value)
        |> Prop.label (sprintf "%A permuted by %A -> %O" dims passed y.Value))

[<Property(MaxTest = 200)>]
let ``transpose twice is the identity and transpose equals the swapping permutation`` () =
    Prop.forAll (Arb.fromGen (shapeCaseGen TransposePair)) (fun (dims, p, values) ->
        let a0, a1 = match p with Axes [| a; b |] -> a, b | _ -> failwith "transpose params"
        let x = Node.constant (tensorOf dims values)
        let t = Node.transpose a0 a1 x
        let swap = Array.init dims.Length id
        let i0, i1 = normalize dims.Length a0, normalize dims.Length a1
        swap[i0] <- i1
        swap[i1] <- i0

        (sameTensor (Node.transpose a0 a1 t).Value x.Value && sameTensor t.Value (Node.permute swap x).Value)
        |> Prop.label (sprintf "%A transpose %d %d -> %O" dims a0 a1 t.Shape))

// ---------------------------------------------------------------------------------------------
// Adjoint pairs at the Tensor level: ⟨op a, b⟩ = ⟨a, adjoint b⟩ for random a and b.

let private adjointHolds (lhs: float) (rhs: float) (scale: float) = abs (lhs - rhs) <= 1e-12 * max 1.0 scale

/// Σ|aᵢ|·max|b|: bounds both sides of the identity.
let private magnitude (a: Tensor) (b: Tensor) =
    (a.ToArray() |> Array.sumBy abs) * (b.ToArray() |> Array.fold (fun m v -> max m (abs v)) 0.0) * 8.0

[<Property(MaxTest = 300)>]
let ``sliceScatter is the adjoint of slice`` () =
    Prop.forAll (Arb.fromGen (Gen.zip (structureGen (SliceRange false)) (Gen.choose (0, 1_000_000)))) (fun ((_, p), seed) ->
        match p with
        | SliceOf(source, axis, start, length, step) ->
            let ax = normalize source.Length axis
            let size = source[ax]
            let st = normalize size start
            let out = Array.updateAt ax length source
            let rng = Random seed
            let a = tensorOf source (randomValues rng (numel source))
            let b = tensorOf out (randomValues rng (numel out))
            let sliced = Tensor.slice ax st length step a
            let scattered = Tensor.sliceScatter ax st step size b
            let lhs, rhs = dot sliced b, dot a scattered

            (sliced.Shape.ToArray() = out
             && scattered.Shape.ToArray() = source
             && adjointHolds lhs rhs (magnitude a b))
            |> Prop.label (sprintf "%A: <slice a, b> = %g, <a, sliceScatter b> = %g" p lhs rhs)
        | _ -> failwith "slice params")

[<Property(MaxTest = 300)>]
let ``indexAdd is the adjoint of indexSelect, repeated indices included`` () =
    Prop.forAll (Arb.fromGen (Gen.zip (structureGen IndexVector) (Gen.choose (0, 1_000_000)))) (fun ((_, p), seed) ->
        match p with
        | IndexOf(source, axis, shape, indices, dtype) ->
            let ax = normalize source.Length axis
            let index = indexTensor dtype shape indices
            let out = Array.updateAt ax shape[0] source
            let rng = Random seed
            let a = tensorOf source (randomValues rng (numel source))
            let b = tensorOf out (randomValues rng (numel out))
            let selected = Tensor.indexSelect ax index a
            let added = Tensor.indexAdd ax index source[ax] b
            let lhs, rhs = dot selected b, dot a added

            (selected.Shape.ToArray() = out && added.Shape.ToArray() = source && adjointHolds lhs rhs (magnitude a b))
            |> Prop.label (sprintf "%A: <indexSelect a, b> = %g, <a, indexAdd b> = %g" p lhs rhs)
            |> Prop.classify (indices.Length <> (Array.distinct indices).Length) "repeated indices"
        | _ -> failwith "index params")

[<Property(MaxTest = 300)>]
let ``scatterAdd is the adjoint of gather, repeated indices included`` () =
    Prop.forAll (Arb.fromGen (Gen.zip (structureGen GatherIndex) (Gen.choose (0, 1_000_000)))) (fun ((_, p), seed) ->
        match p with
        | IndexOf(source, axis, shape, indices, dtype) ->
            let ax = normalize source.Length axis
            let index = indexTensor dtype shape indices
            let rng = Random seed
            let a = tensorOf source (randomValues rng (numel source))
            let b = tensorOf shape (randomValues rng (numel shape))
            let gathered = Tensor.gather ax index a
            let scattered = Tensor.scatterAdd ax index (Shape.Of source) b
            let lhs, rhs = dot gathered b, dot a scattered
            // And gather against its definition: out[i] = a[i with axis replaced by index[i]].
            let modelOk =
                Seq.forall
                    (fun flat ->
                        let i = unravel shape flat
                        gathered.GetFlat flat = a.GetFlat(ravel source (Array.updateAt ax (int indices[flat]) i)))
                    (seq { 0 .. numel shape - 1 })

            (gathered.Shape.ToArray() = shape
             && scattered.Shape.ToArray() = source
             && modelOk
             && adjointHolds lhs rhs (magnitude a b))
            |> Prop.label (sprintf "%A: <gather a, b> = %g, <a, scatterAdd b> = %g, model %b" p lhs rhs modelOk)
        | _ -> failwith "index params")

// ---------------------------------------------------------------------------------------------
// softmax, logSoftmax and logSumExp.

/// A shape of rank 1–3, an axis (maybe negative) and logits, some of them huge (±largest, often
/// tied at the top).
let private logitsGen (largest: float) : Gen<int[] * int * float[]> =
    gen {
        let! shapes, p = structureGen ReduceAxis
        let axis = match p with Axis a -> a | _ -> 0
        let! values =
            Gen.arrayOfLength
                (numel shapes[0])
                (Gen.frequency [ 1, floatIn -3.0 3.0; 1, floatIn -largest largest; 1, Gen.elements [ largest; -largest ] ])
        return shapes[0], axis, values
    }

/// softmax lanes sum to 1 and lie in [0, 1], logSoftmax is finite and ≤ 0 and so is its gradient,
/// all up to tol (a few ulp of the result: 1e-12 in float64, 1e-5 in float32; the sums have at
/// most 4 terms).
let private softmaxIsStable (single: bool) (dims: int[], axis: int, values: float[]) =
    let make = if single then tensor32Of else tensorOf
    let x = Node.leaf (make dims values)
    let s = Node.softmax axis x
    let ls = Node.logSoftmax axis x
    let ax = normalize dims.Length axis
    let tol = if single then 1e-5 else 1e-12
    let sums = groups dims [| ax |] |> Array.map (Array.sumBy s.Value.GetFlat)
    let g = (Reverse.gradients (Node.sumAll ls)).[x].Value

    (sums |> Array.forall (fun v -> abs (v - 1.0) <= tol)
     // In [0, 1] up to rounding (float32 may give 1 + 1 ulp for a lane with one dominant logit).
     && s.Value.ToArray() |> Array.forall (fun v -> 0.0 <= v && v <= 1.0 + tol)
     && finite ls.Value
     && ls.Value.ToArray() |> Array.forall (fun v -> v <= tol)
     && finite g)
    |> Prop.label (sprintf "%A axis %d\nsoftmax %O\nsums %A\nlogSoftmax %O\ngradient %O" dims axis s.Value sums ls.Value g)

[<Property(MaxTest = 300)>]
let ``softmax sums to 1 along its axis and logSoftmax stays finite for logits up to 1000 in magnitude (float64)`` () =
    Prop.forAll (Arb.fromGen (logitsGen 1000.0)) (softmaxIsStable false)

[<Property(MaxTest = 300)>]
let ``softmax sums to 1 along its axis and logSoftmax stays finite for logits up to 1000 in magnitude (float32)`` () =
    Prop.forAll (Arb.fromGen (logitsGen 1000.0)) (softmaxIsStable true)

[<Property(MaxTest = 300)>]
let ``logSumExp equals log of the sum of exponentials where that does not overflow`` () =
    let gen =
        gen {
            let! shapes, p = structureGen (ReduceAxes 1)
            let axes = match p with Axes a -> a | _ -> [||]
            let! values = Gen.arrayOfLength (numel shapes[0]) (floatIn -30.0 30.0)
            let! keepDim = Gen.elements [ false; true ]
            let! single = Gen.elements [ false; true ]
            return shapes[0], axes, values, keepDim, single
        }

    Prop.forAll (Arb.fromGen gen) (fun (dims, axes, values, keepDim, single) ->
        let values = if single then values |> Array.map (fun v -> float (float32 v)) else values
        let make = if single then tensor32Of else tensorOf
        let y = (Node.logSumExp axes keepDim (Node.constant (make dims values))).Value
        let normalized = axes |> Array.map (normalize dims.Length)
        let expected = groups dims normalized |> Array.map (fun g -> log (g |> Array.sumBy (fun i -> exp values[i])))
        let expectedDims =
            if keepDim then dims |> Array.mapi (fun i d -> if Array.contains i normalized then 1 else d)
            else dims |> Array.indexed |> Array.filter (fun (i, _) -> not (Array.contains i normalized)) |> Array.map snd
        let tol = if single then 2e-6 else 1e-13

        (y.Shape.ToArray() = expectedDims
         && Array.forall id (Array.init expected.Length (fun i -> abs (y.GetFlat i - expected[i]) <= tol * max 1.0 (abs expected[i]))))
        |> Prop.label (sprintf "%A over %A keepDim %b: %O, expected %A" dims axes keepDim y expected))

// ---------------------------------------------------------------------------------------------
// argMax / argMin (no gradient): the first extreme position along the axis, on a coarse grid so
// that ties are common.

[<Property(MaxTest = 300)>]
let ``argMax and argMin give the first extreme position along the axis`` () =
    let gen =
        gen {
            let! shapes, p = structureGen ReduceAxis
            let axis = match p with Axis a -> a | _ -> 0
            let! values = Gen.arrayOfLength (numel shapes[0]) (Gen.choose (-2, 2) |> Gen.map float)
            let! keepDim = Gen.elements [ false; true ]
            return shapes[0], axis, values, keepDim
        }

    Prop.forAll (Arb.fromGen gen) (fun (dims, axis, values, keepDim) ->
        let x = tensorOf dims values
        let ax = normalize dims.Length axis
        let lanes = groups dims [| ax |]
        let first (better: float -> float -> bool) (lane: int[]) =
            let mutable best = 0
            for k in 1 .. lane.Length - 1 do
                if better values[lane[k]] values[lane[best]] then best <- k
            int64 best
        let expectedMax = lanes |> Array.map (first (>))
        let expectedMin = lanes |> Array.map (first (<))
        let outDims = if keepDim then Array.updateAt ax 1 dims else Array.removeAt ax dims
        let am, an = Node.argMax axis keepDim x, Node.argMin axis keepDim x

        (am.DType = DType.Int64
         && am.Shape.ToArray() = outDims
         && an.Shape.ToArray() = outDims
         && am.ToInt64Array() = expectedMax
         && an.ToInt64Array() = expectedMin)
        |> Prop.label (sprintf "%A axis %d keepDim %b\nargMax %O (expected %A)\nargMin %O (expected %A)" dims axis keepDim am expectedMax an expectedMin)
        |> Prop.classify (lanes |> Array.exists (fun l -> (l |> Array.map (fun i -> values[i]) |> Array.distinct).Length < l.Length)) "ties")

// ---------------------------------------------------------------------------------------------
// where never leaks a NaN or ∞ from the branch it did not take.

[<Property(MaxTest = 300)>]
let ``where never leaks NaN: sum(where(x > 0, sqrt x, x)) has a finite gradient everywhere`` () =
    let gen =
        gen {
            let! dims = shapeGen
            let! values =
                Gen.arrayOfLength
                    (numel dims)
                    (Gen.frequency [ 2, floatIn -3.0 -0.1; 1, Gen.constant 0.0; 1, Gen.constant -0.0; 2, floatIn 0.1 3.0 ])
            let! single = Gen.elements [ false; true ]
            return dims, values, single
        }

    Prop.forAll (Arb.fromGen gen) (fun (dims, values, single) ->
        let make = if single then tensor32Of else tensorOf
        let xv = make dims values
        let x = Node.leaf xv
        let condition = Tensor.op_GreaterThan(xv, 0.0)
        let f (x: Node) = Node.sumAll (Node.where condition (Node.sqrt x) x)
        let y = f x
        // Reverse mode, forward mode (the tangent 1 everywhere) and the recorded gradient's own
        // gradient (second order).
        let grads = Reverse.gradientsWith true (Node.constant (Tensor.onesLike y.Value)) y
        let g = grads[x]
        let jvp = Forward.tangent [ x, Tensor.onesLike xv ] y
        let hessianDiagonal = (Reverse.gradients (Node.sumAll g)).[x].Value
        let expectedGradient = values |> Array.map (fun v -> if v > 0.0 then 0.5 / sqrt v else 1.0)
        let tol = if single then 1e-6 else 1e-14
        let close (t: Tensor) (expected: float[]) =
            Array.forall id (Array.init expected.Length (fun i -> abs (t.GetFlat i - expected[i]) <= tol * max 1.0 (abs expected[i])))
        let expectedHessian = values |> Array.map (fun v -> if v > 0.0 then -0.25 * Math.Pow(v, -1.5) else 0.0)

        (finite y.Value
         && finite g.Value
         && close g.Value expectedGradient
         && finite jvp
         && abs (jvp.Item() - Array.sum expectedGradient) <= tol * 100.0 * max 1.0 (abs (Array.sum expectedGradient))
         && finite hessianDiagonal
         && close hessianDiagonal expectedHessian)
        |> Prop.label (sprintf "x %O\ngradient %O\njvp %O\nd(sum gradient)/dx %O" xv g.Value jvp hessianDiagonal))

// ---------------------------------------------------------------------------------------------
// Forward values against the mathematical definitions (the gradient checks only compare an op
// with itself; these compare it with an independent reference).

/// ln(1 + x) to a few ulp (Higham's trick: the rounding of 1 + x cancels).
let private log1pReference (x: float) =
    let u = 1.0 + x
    if u = 1.0 then x else log u * x / (u - 1.0)

/// e^x − 1 to a few ulp (Kahan's trick).
let private expm1Reference (x: float) =
    let u = exp x
    if u = 1.0 then x
    elif u - 1.0 = -1.0 then -1.0
    else (u - 1.0) * x / log u

/// erf by its Maclaurin series (|x| ≤ 3: about 13 significant digits survive the cancellation).
let private erfReference (x: float) =
    let mutable sum = 0.0
    let mutable power = x // x^(2n+1) / n!, with sign
    let mutable n = 0

    while n < 200 && (n < 3 || abs power / float (2 * n + 1) > 1e-17 * abs sum) do
        sum <- sum + power / float (2 * n + 1)
        n <- n + 1
        power <- -power * x * x / float n

    2.0 / sqrt Math.PI * sum

let private softplusReference (x: float) = max x 0.0 + log1pReference (exp -(abs x))

type ElementwiseReference =
    { Name: string
      Values: Gen<float>
      Apply: Node -> Node
      Reference: float -> float
      /// Absolute slack in float32 on top of 2e-6 relative: 2e-7 where the float32 kernels may lose
      /// absolute accuracy (range reduction, cancellation); 0 for log1p / expm1, whose accuracy
      /// near 0 is the point of having them.
      Float32Atol: float }

    override r.ToString() = r.Name

/// Values of a range, or (one time in three) tiny ones where log1p / expm1 must stay accurate.
let private withTiny (lo: float) (hi: float) =
    Gen.frequency [ 2, floatIn lo hi; 1, floatIn -1e-6 1e-6; 1, Gen.elements [ 1e-12; -1e-12; 1e-300; 0.0 ] ]

let private elementwiseReferences: ElementwiseReference list =
    let r name values apply reference atol =
        { Name = name
          Values = values
          Apply = apply
          Reference = reference
          Float32Atol = atol }

    let geluTanh x = 0.5 * x * (1.0 + tanh (sqrt (2.0 / Math.PI) * (x + 0.044715 * x * x * x)))

    [ r "abs" (floatIn -3.0 3.0) Node.abs abs 0.0
      r "sqrt" (withTiny 0.0 3.0 |> Gen.map abs) Node.sqrt sqrt 0.0
      r "square" (floatIn -3.0 3.0) Node.square (fun x -> x * x) 0.0
      r "sin" (floatIn -4.0 4.0) Node.sin sin 2e-7
      r "cos" (floatIn -4.0 4.0) Node.cos cos 2e-7
      r "log1p" (withTiny -0.45 3.0) Node.log1p log1pReference 0.0
      r "expm1" (withTiny -3.0 3.0) Node.expm1 expm1Reference 0.0
      r "softplus" (floatIn -30.0 30.0) Node.softplus softplusReference 2e-7
      r "erf" (floatIn -3.0 3.0) Node.erf erfReference 2e-7
      r "reciprocal" (Gen.map2 (fun m s -> if s then m else -m) (floatIn 0.1 3.0) (Gen.elements [ true; false ])) Node.reciprocal (fun x -> 1.0 / x) 0.0
      r "logSigmoid" (floatIn -30.0 30.0) Node.logSigmoid (fun x -> -(softplusReference -x)) 2e-7
      r "gelu" (floatIn -3.0 3.0) (Node.gelu false) (fun x -> 0.5 * x * (1.0 + erfReference (x / sqrt 2.0))) 2e-7
      r "gelu tanh" (floatIn -3.0 3.0) (Node.gelu true) geluTanh 2e-7
      r "leakyRelu 0.2" (floatIn -3.0 3.0) (Node.leakyRelu 0.2) (fun x -> if x > 0.0 then x else 0.2 * x) 0.0
      r "elu 1.0" (floatIn -3.0 3.0) (Node.elu 1.0) (fun x -> if x > 0.0 then x else expm1Reference x) 2e-7
      r "clamp -0.5 1" (floatIn -3.0 3.0) (Node.clamp -0.5 1.0) (fun x -> min 1.0 (max -0.5 x)) 0.0
      r "clampMax 0.5" (floatIn -3.0 3.0) (Node.clampMax 0.5) (fun x -> min 0.5 x) 0.0 ]

/// Every element within rtol (1e-12 in float64, 2e-6 in float32: a few ulp) of the reference
/// computed in float64 on the same inputs, plus the op's float32 absolute slack.
let private matchesReference (references: ElementwiseReference list) =
    let gen =
        gen {
            let! op = Gen.elements references
            let! dims = shapeGen
            let! values = Gen.arrayOfLength (numel dims) op.Values
            let! single = Gen.elements [ false; true ]
            return op, dims, values, single
        }

    Prop.forAll (Arb.fromGen gen) (fun (op, dims, values, single) ->
        let values = if single then values |> Array.map (fun v -> float (float32 v)) else values
        let make = if single then tensor32Of else tensorOf
        let y = (op.Apply(Node.constant (make dims values))).Value
        // The reference in float64 on the same (rounded) inputs, rounded like the result.
        let expected = values |> Array.map (fun v -> let e = op.Reference v in if single then float (float32 e) else e)
        let rtol, atol = if single then 2e-6, op.Float32Atol else 1e-12, 1e-300
        let bad =
            [ for i in 0 .. expected.Length - 1 do
                  if not (abs (y.GetFlat i - expected[i]) <= atol + rtol * abs expected[i]) then
                      yield sprintf "x = %.17g: got %.17g, expected %.17g" values[i] (y.GetFlat i) expected[i] ]

        (y.Shape.ToArray() = dims && List.isEmpty bad)
        |> Prop.label (sprintf "%s %s %A\n%s" op.Name (if single then "float32" else "float64") dims (String.concat "\n" (List.truncate 5 bad)))
        |> Prop.classify true op.Name)

let private isTail (r: ElementwiseReference) = r.Name = "softplus" || r.Name = "logSigmoid"

[<Property(MaxTest = 400)>]
let ``elementwise ops match their mathematical definitions in float64 and float32`` () =
    matchesReference (elementwiseReferences |> List.filter (isTail >> not))

// softplus(x) ≈ e^x for x ≪ 0 (and logSigmoid(x) ≈ −e^−x for x ≫ 0): a correct
// max(x, 0) + log1p(e^−|x|) keeps full relative accuracy there, which is what the inputs in
// [−30, 30] probe (binary cross-entropy of confident predictions, log-likelihoods).
[<Property(MaxTest = 200)>]
let ``softplus and logSigmoid keep their relative accuracy in the tails`` () =
    matchesReference (elementwiseReferences |> List.filter isTail)

[<Property(MaxTest = 300)>]
let ``reductions match their definitions along random axes`` () =
    let gen =
        gen {
            let! shapes, p = structureGen (ReduceAxes 2)
            let axes = match p with Axes a -> a | _ -> [||]
            let! values = domainArrayGen (Distinct(0.2, 0.05)) (numel shapes[0])
            let! keepDim = Gen.elements [ false; true ]
            return shapes[0], axes, values, keepDim
        }

    Prop.forAll (Arb.fromGen gen) (fun (dims, axes, values, keepDim) ->
        let x = Node.constant (tensorOf dims values)
        let normalized = axes |> Array.map (normalize dims.Length)
        let lanes = groups dims normalized
        let pick (g: int[]) = g |> Array.map (fun i -> values[i])
        let mean (v: float[]) = Array.average v
        let var (unbiased: bool) (v: float[]) =
            let m = mean v
            (v |> Array.sumBy (fun a -> (a - m) * (a - m))) / float (if unbiased then v.Length - 1 else v.Length)
        let axis = normalized[0]
        let axisLanes = groups dims [| axis |]

        let checks: (string * Tensor * float[]) list =
            [ "sum", (Node.sum axes keepDim x).Value, lanes |> Array.map (pick >> Array.sum)
              "meanAlong", (Node.meanAlong axes keepDim x).Value, lanes |> Array.map (pick >> mean)
              "variance unbiased", (Node.variance axes true keepDim x).Value, lanes |> Array.map (pick >> var true)
              "variance biased", (Node.variance axes false keepDim x).Value, lanes |> Array.map (pick >> var false)
              "std unbiased", (Node.std axes true keepDim x).Value, lanes |> Array.map (pick >> var true >> sqrt)
              "std biased", (Node.std axes false keepDim x).Value, lanes |> Array.map (pick >> var false >> sqrt)
              "maxAlong", (Node.maxAlong axes[0] keepDim x).Value, axisLanes |> Array.map (pick >> Array.max)
              "minAlong", (Node.minAlong axes[0] keepDim x).Value, axisLanes |> Array.map (pick >> Array.min)
              "maxAll", (Node.maxAll x).Value, [| Array.max values |]
              "minAll", (Node.minAll x).Value, [| Array.min values |] ]

        let bad =
            checks
            |> List.filter (fun (_, y, expected) ->
                not (y.Size = expected.Length
                     && Array.forall id (Array.init expected.Length (fun i -> abs (y.GetFlat i - expected[i]) <= 1e-12 * max 1.0 (abs expected[i])))))
            |> List.map (fun (name, y, expected) -> sprintf "%s: got %O, expected %A" name y expected)

        List.isEmpty bad |> Prop.label (sprintf "%A axes %A keepDim %b\n%s" dims axes keepDim (String.concat "\n" bad)))

/// The documented loss definitions (PyTorch's), per sample / element, in float64.
type LossCase =
    { Loss: string
      Reduction: Reduction
      Rows: int
      Classes: int
      Input: float[]
      Target: float[]
      Labels: int64[]
      Weights: float[]
      Smoothing: float }

[<Property(MaxTest = 400)>]
let ``losses match their documented definitions`` () =
    let gen =
        gen {
            let! loss = Gen.elements [ "mse"; "huber"; "bce"; "nll"; "cross_entropy" ]
            let! reduction = Gen.elements [ Reduction.Mean; Reduction.Sum; Reduction.None ]
            let! rows = Gen.choose (1, 4)
            let! classes = Gen.choose (1, 5)
            let! input = Gen.arrayOfLength (rows * classes) (floatIn -4.0 4.0)
            let! target = Gen.arrayOfLength (rows * classes) (if loss = "bce" then floatIn 0.0 1.0 else floatIn -4.0 4.0)
            let! labels = Gen.arrayOfLength rows (Gen.choose (0, classes - 1) |> Gen.map int64)
            let! weighted = Gen.elements [ false; true ]
            let! weights = if weighted then Gen.arrayOfLength classes (floatIn 0.2 2.0) else Gen.constant [||]
            let! smoothing = Gen.elements [ 0.0; 0.1; 0.5; 1.0 ]
            return
                { Loss = loss
                  Reduction = reduction
                  Rows = rows
                  Classes = classes
                  Input = input
                  Target = target
                  Labels = labels
                  Weights = weights
                  Smoothing = smoothing }
        }

    Prop.forAll (Arb.fromGen gen) (fun c ->
        let dims = [| c.Rows; c.Classes |]
        let input = Node.constant (tensorOf dims c.Input)
        let target = Node.constant (tensorOf dims c.Target)
        let labels = Tensor.FromArray(c.Labels, c.Rows)
        let weights = if c.Weights.Length = 0 then null else Tensor.FromArray(c.Weights, c.Classes)
        let w (k: int) = if c.Weights.Length = 0 then 1.0 else c.Weights[k]
        let row (i: int) = c.Input[i * c.Classes .. (i + 1) * c.Classes - 1]
        let logProbs (i: int) =
            let xs = row i
            let m = Array.max xs
            let lse = m + log (xs |> Array.sumBy (fun v -> exp (v - m)))
            xs |> Array.map (fun v -> v - lse)
        let huberDelta = 1.0

        let y, perItem, divisor =
            match c.Loss with
            | "mse" ->
                Loss.mse c.Reduction input target, Array.map2 (fun a b -> (a - b) * (a - b)) c.Input c.Target, float c.Input.Length
            | "huber" ->
                let h a b =
                    let d = abs (a - b)
                    if d <= huberDelta then 0.5 * d * d else huberDelta * (d - 0.5 * huberDelta)
                Loss.huber huberDelta c.Reduction input target, Array.map2 h c.Input c.Target, float c.Input.Length
            | "bce" ->
                let b x t = max x 0.0 - x * t + log1pReference (exp -(abs x))
                Loss.binaryCrossEntropyWithLogits c.Reduction input target, Array.map2 b c.Input c.Target, float c.Input.Length
            | "nll" ->
                let per = Array.init c.Rows (fun i -> -(w (int c.Labels[i])) * c.Input[i * c.Classes + int c.Labels[i]])
                Loss.nll c.Reduction weights input labels, per, Array.init c.Rows (fun i -> w (int c.Labels[i])) |> Array.sum
            | _ ->
                let per =
                    Array.init c.Rows (fun i ->
                        let lp = logProbs i
                        let label = int c.Labels[i]
                        let picked = -(w label) * lp[label]
                        let smooth = -(Array.init c.Classes (fun k -> w k * lp[k]) |> Array.sum)
                        (1.0 - c.Smoothing) * picked + c.Smoothing / float c.Classes * smooth)
                Loss.crossEntropy c.Reduction weights c.Smoothing input labels, per, Array.init c.Rows (fun i -> w (int c.Labels[i])) |> Array.sum

        let expected =
            match c.Reduction with
            | Reduction.Mean -> [| Array.sum perItem / divisor |]
            | Reduction.Sum -> [| Array.sum perItem |]
            | _ -> perItem

        (y.Value.Size = expected.Length
         && Array.forall id (Array.init expected.Length (fun i -> abs (y.Value.GetFlat i - expected[i]) <= 1e-12 * max 1.0 (abs expected[i]))))
        |> Prop.label (sprintf "%A\ngot %O, expected %A" c y.Value expected)
        |> Prop.classify true c.Loss)
