namespace TinyTorch

open System
open System.Collections.Generic
open System.Numerics.Tensors

/// An immutable dense n-d array, row-major, rank 0 (a scalar) upward. Floating tensors (float32,
/// float64) carry values and gradients; integer tensors (int32, int64) carry class labels and indices.
/// <remarks>Python course: <c>Tensor</c>. PyTorch: <c>torch.Tensor</c>. Nothing mutates a tensor after construction.</remarks>
[<Sealed; AllowNullLiteral>]
type Tensor internal (dtype: DType, shape: Shape, data: Array, storage: TinyTorch.Functional.Storage, pending: Pending) =
    // A pooled array is owned by its storage, which gives it back when no tensor views it; a small
    // (unpooled) array needs no owner but the GC, so its tensors carry no storage object (null).
    // A large elementwise result may start deferred (see Deferred): no array yet, only how to compute
    // it; the first read of its elements computes them once. Either way its values never change.
    // (Readers that find data null take the lock in Fusion.Compute, which publishes both fields.)
    let mutable data = data
    let mutable storage = storage
    [<VolatileField>]
    let mutable pending = pending

    static let copy2d (values: 'T[,]) =
        let rows, cols = Array2D.length1 values, Array2D.length2 values
        Array.init (rows * cols) (fun i -> values[i / cols, i % cols])

    static let shape2d (values: 'T[,]) = Shape.Of(Array2D.length1 values, Array2D.length2 values)

    static let vector (values: Array) = Shape.Of((notNull "values" values).Length)

    static let checkLength (data: Array) (shape: Shape) =
        if data.Length <> shape.Size then
            raise (
                ArgumentException(
                    sprintf "tensor: %d values cannot fill shape %O, which holds %d; pass exactly %d values or change the shape." data.Length shape shape.Size shape.Size,
                    "data"
                )
            )

    static let fromArray (dtype: DType) (data: Array) (shape: int[]) =
        let shape = Shape.Of(notNull "shape" shape)
        checkLength (notNull "data" data) shape
        Tensor(dtype, shape, data.Clone() :?> Array)

    /// Takes ownership of an array (not pooled: the GC frees it).
    internal new(dtype: DType, shape: Shape, data: Array) = Tensor(dtype, shape, data, null, null)
    /// Takes ownership of an array owned by <paramref name="storage"/> (null: by no one but the GC).
    internal new(dtype: DType, shape: Shape, data: Array, storage: TinyTorch.Functional.Storage) = Tensor(dtype, shape, data, storage, null)
    /// A tensor whose elements <paramref name="expression"/> computes when they are first read.
    internal new(dtype: DType, shape: Shape, expression: Deferred) = Tensor(dtype, shape, null, null, Pending(expression))
    /// A float64 scalar (rank 0).
    new(value: float) = Tensor(DType.Float64, Shape.Scalar, [| value |])
    /// A float32 scalar (rank 0).
    new(value: float32) = Tensor(DType.Float32, Shape.Scalar, [| value |])
    /// A float64 vector holding a copy of <paramref name="values"/>.
    new(values: float[]) = Tensor(DType.Float64, vector values, Array.copy values)
    /// A float32 vector holding a copy of <paramref name="values"/>.
    new(values: float32[]) = Tensor(DType.Float32, vector values, Array.copy values)
    /// An int32 vector (class labels, indices) holding a copy of <paramref name="values"/>.
    new(values: int[]) = Tensor(DType.Int32, vector values, Array.copy values)
    /// An int64 vector (class labels, indices) holding a copy of <paramref name="values"/>.
    new(values: int64[]) = Tensor(DType.Int64, vector values, Array.copy values)
    /// A float64 matrix holding a copy of <paramref name="values"/>.
    new(values: float[,]) = Tensor(DType.Float64, shape2d (notNull "values" values), copy2d values)
    /// A float32 matrix holding a copy of <paramref name="values"/>.
    new(values: float32[,]) = Tensor(DType.Float32, shape2d (notNull "values" values), copy2d values)

    /// A float64 tensor of the given shape from row-major <paramref name="data"/> (copied).
    static member FromArray(data: float[], [<ParamArray>] shape: int[]) = fromArray DType.Float64 data shape
    /// A float32 tensor of the given shape from row-major <paramref name="data"/> (copied).
    static member FromArray(data: float32[], [<ParamArray>] shape: int[]) = fromArray DType.Float32 data shape
    /// An int32 tensor of the given shape from row-major <paramref name="data"/> (copied).
    static member FromArray(data: int[], [<ParamArray>] shape: int[]) = fromArray DType.Int32 data shape
    /// An int64 tensor of the given shape from row-major <paramref name="data"/> (copied).
    static member FromArray(data: int64[], [<ParamArray>] shape: int[]) = fromArray DType.Int64 data shape

    /// Takes ownership of an array without copying (internal: callers never touch it again).
    static member internal Wrap(shape: Shape, data: float[]) = Tensor(DType.Float64, shape, data)
    /// Takes ownership of an array without copying (internal: callers never touch it again).
    static member internal Wrap(shape: Shape, data: float32[]) = Tensor(DType.Float32, shape, data)
    /// Takes ownership of an array without copying (internal: callers never touch it again).
    static member internal Wrap(shape: Shape, data: int64[]) = Tensor(DType.Int64, shape, data)
    /// Takes ownership of an array of any supported element type (internal).
    static member internal WrapAs(dtype: DType, shape: Shape, data: Array) = Tensor(dtype, shape, data)

    /// Takes ownership of an array that <c>Pool.rent</c> returned: a large one goes back to the pool
    /// when no tensor views it any more. Call it exactly once per rented array.
    static member internal Rented(dtype: DType, shape: Shape, data: Array) =
        // (Element size from the array type: Buffer.ByteLength overflows on arrays over 2 GB.)
        let elementSize = match data with :? (float32[]) | :? (int[]) -> 4 | _ -> 8
        if TinyTorch.Functional.Pool.isPooled data.Length elementSize then Tensor(dtype, shape, data, TinyTorch.Functional.PooledStorage(data))
        else Tensor(dtype, shape, data, null)

    /// The owner of the elements, shared by views (the reverse engine counts references by it); null
    /// while the tensor is deferred.
    member internal _.Storage = storage

    /// The same elements with another shape of the same size, sharing the storage (no copy).
    member internal this.View(newShape: Shape) =
        let d = this.Data
        Tensor(dtype, newShape, d, storage)

    /// The expression that will compute the elements, or null once they are computed.
    member internal _.Deferred = match pending with null -> Unchecked.defaultof<Deferred> | p -> p.Expression
    /// Whether the elements are still to be computed.
    member internal _.IsDeferred = not (isNull pending)
    /// Deferred operations in this tensor's expression (0 once computed).
    member internal _.Nodes = match pending with null -> 0 | p -> p.Nodes

    /// Counts one more expression taking this tensor as an operand; returns the new count (0 once the
    /// tensor is computed: Fusion.Defer pins its array then).
    member internal _.Capture() = match pending with null -> 0 | p -> p.Capture()

    /// Keeps the array from being given back early by an owner that knows no *tensor* reads it again
    /// (the reverse engine): a deferred expression that took this tensor as an operand still will.
    member internal _.Pin() =
        match storage with
        | :? TinyTorch.Functional.PooledStorage as p -> p.Pin()
        | _ -> ()

    /// Takes the computed elements of a deferred tensor (a rented array); false when another thread
    /// computed them first (then the array is not used).
    member internal this.Adopt(computed: Array) : bool =
        lock this (fun () ->
            if not (isNull data) then false
            else
                let elementSize = match computed with :? (float32[]) | :? (int[]) -> 4 | _ -> 8
                if TinyTorch.Functional.Pool.isPooled computed.Length elementSize then
                    let owner = TinyTorch.Functional.PooledStorage(computed)
                    if pending.Captures > 0 then owner.Pin()
                    storage <- owner
                data <- computed
                pending <- null
                true)

    /// A tensor of the given shape and dtype with every element equal to <paramref name="value"/>.
    static member Full(shape: Shape, value: float, dtype: DType) =
        let shape = notNull "shape" shape

        match dtype with
        | DType.Float32 ->
            let a = TinyTorch.Functional.Pool.rent<float32> shape.Size false
            Array.Fill(a, float32 value)
            Tensor.Rented(dtype, shape, a)
        | DType.Float64 ->
            let a = TinyTorch.Functional.Pool.rent<float> shape.Size false
            Array.Fill(a, value)
            Tensor.Rented(dtype, shape, a)
        | DType.Int32 -> Tensor(dtype, shape, Array.create shape.Size (int value))
        | DType.Int64 -> Tensor(dtype, shape, Array.create shape.Size (int64 value))
        | _ -> raise (ArgumentOutOfRangeException("dtype", dtype, "tensor: unknown dtype."))

    /// Zeros of the given shape and dtype.
    static member Zeros(shape: Shape, dtype: DType) = Tensor.Full(shape, 0.0, dtype)
    /// Ones of the given shape and dtype.
    static member Ones(shape: Shape, dtype: DType) = Tensor.Full(shape, 1.0, dtype)
    /// A 0-d tensor of the given dtype.
    static member Scalar(value: float, dtype: DType) = Tensor.Full(Shape.Scalar, value, dtype)

    /// The elements (computed now if the tensor is deferred).
    member internal this.Data : Array =
        match data with
        | null -> Fusion.Compute this
        | d -> d

    member internal this.Single = this.Data :?> float32[]
    member internal this.Double = this.Data :?> float[]

    /// The dimensions.
    member _.Shape = shape
    /// Number of dimensions (0 for a scalar).
    member _.Rank = shape.Rank
    /// Number of elements.
    member _.Size = shape.Size
    /// Element type.
    member _.DType = dtype
    /// True for float32 and float64 tensors, the ones that can carry gradients.
    member _.IsFloatingPoint = (dtype = DType.Float32 || dtype = DType.Float64)

    /// Element <paramref name="index"/> in row-major order, widened to double.
    member this.GetFlat(index: int) : float =
        let data = this.Data

        match dtype with
        | DType.Float32 -> float (data :?> float32[]).[index]
        | DType.Float64 -> (data :?> float[]).[index]
        | DType.Int32 -> float (data :?> int[]).[index]
        | _ -> float (data :?> int64[]).[index]

    /// Element <paramref name="index"/> in row-major order as an integer (floats truncate toward zero).
    member this.GetInt64Flat(index: int) : int64 =
        let data = this.Data

        match dtype with
        | DType.Int32 -> int64 (data :?> int[]).[index]
        | DType.Int64 -> (data :?> int64[]).[index]
        | DType.Float32 -> int64 (data :?> float32[]).[index]
        | _ -> int64 (data :?> float[]).[index]

    /// The only element, widened to double. Python course: <c>item()</c>.
    member this.Item() : float =
        if shape.Size <> 1 then
            raise (InvalidOperationException(sprintf "Item() needs a tensor with exactly one element, but this tensor has shape %O (%d elements). Index or reduce it first (e.g. sum)." shape shape.Size))

        this.GetFlat 0

    /// All elements in row-major order, widened to double (a copy).
    member this.ToArray() : float[] =
        let r = if dtype = DType.Float64 then Array.copy this.Double else Array.init shape.Size this.GetFlat
        GC.KeepAlive this
        r

    /// All elements in row-major order as float32 (a copy, rounded when this tensor is float64).
    member this.ToSingleArray() : float32[] =
        let r = if dtype = DType.Float32 then Array.copy this.Single else Array.init shape.Size (this.GetFlat >> float32)
        GC.KeepAlive this
        r

    /// All elements in row-major order as int64 (a copy; floats truncate toward zero).
    member this.ToInt64Array() : int64[] =
        let r = Array.init shape.Size this.GetInt64Flat
        GC.KeepAlive this
        r

    /// The elements in nested brackets (at most 6 per row shown), e.g. <c>[[1, 2], [3, 4]]</c>,
    /// followed by the dtype when it is not float64, e.g. <c>, dtype=Float32</c>.
    member this.Format() : string =
        let sb = Text.StringBuilder()
        let fmt (v: float) = v.ToString("G6", Globalization.CultureInfo.InvariantCulture)

        let rec render (dim: int) (offset: int) (stride: int) =
            if dim = shape.Rank then
                sb.Append(fmt (this.GetFlat offset)) |> ignore
            else
                let n = shape[dim]
                let inner = stride / max n 1
                sb.Append('[') |> ignore

                for i in 0 .. n - 1 do
                    if n <= 6 || i < 3 || i >= n - 3 then
                        if i > 0 then sb.Append(", ") |> ignore
                        render (dim + 1) (offset + i * inner) inner
                    elif i = 3 then
                        sb.Append(", ...") |> ignore

                sb.Append(']') |> ignore

        render 0 0 shape.Size
        if dtype <> DType.Float64 then sb.Append(", dtype=").Append(dtype) |> ignore
        sb.ToString()

    /// <c>Tensor(</c> + <see cref="Format"/> + <c>)</c>.
    override this.ToString() = "Tensor(" + this.Format() + ")"

/// An elementwise computation not run yet: the value of a deferred <see cref="Tensor"/>. Its operands
/// are tensors of the same size and dtype, computed or deferred themselves, so deferred tensors form a
/// small expression graph that <see cref="Fusion"/> runs in one pass over memory. Only operations whose
/// every element is exactly rounded IEEE arithmetic are deferred, so a fused result is bit for bit the
/// one the separate kernels give.
and [<RequireQualifiedAccess>] internal Deferred =
    /// Every element equal to the value (an expanded number: the gradient of a sum).
    | Fill of value: float
    | Map of kernel: TinyTorch.Functional.MapKernel * x: Tensor
    | Zip of kernel: TinyTorch.Functional.ZipKernel * a: Tensor * b: Tensor
    /// kernel(a, s), or kernel(s, a) when scalarFirst (s in the operand's dtype, held exactly as a double).
    | ZipScalar of kernel: TinyTorch.Functional.ZipKernel * scalar: float * scalarFirst: bool * a: Tensor
    /// g·step(x), 0 wherever g is 0 (the cotangent of relu and clamp).
    | StepMultiply of threshold: float * atThreshold: float * g: Tensor * x: Tensor

    /// The tensors this expression reads.
    member this.Operands: Tensor[] =
        match this with
        | Fill _ -> [||]
        | Map(_, x) -> [| x |]
        | Zip(_, a, b) -> [| a; b |]
        | ZipScalar(_, _, _, a) -> [| a |]
        | StepMultiply(_, _, g, x) -> [| g; x |]

/// A deferred tensor's expression and its bookkeeping (a computed tensor carries none).
and [<Sealed; AllowNullLiteral>] internal Pending(expression: Deferred) =
    /// Deferred operations in the expression, counted once per occurrence.
    let nodes = 1 + (expression.Operands |> Array.sumBy (fun o -> o.Nodes))
    /// How many deferred expressions took the tensor as an operand.
    let mutable captures = 0

    /// The expression that computes the elements.
    member _.Expression = expression
    /// Deferred operations in the expression, counted once per occurrence.
    member _.Nodes = nodes
    /// How many deferred expressions took the tensor as an operand so far.
    member _.Captures = Threading.Volatile.Read(&captures)
    /// Counts one more expression taking the tensor as an operand; returns the new count.
    member _.Capture() = Threading.Interlocked.Increment(&captures)

/// Defers elementwise results of large tensors and computes them fused. The deferred tensors a
/// result depends on become one kernel (see Fused.fs): a struct type per expression, compiled once by
/// the JIT into a single loop, so each element of the computed operands is read once and each result
/// written once (sum(relu(a·b + c)) reads a, b and c and writes nothing; its three gradients are one
/// pass that reads a, b, c and writes the three). Every fused op is exactly rounded and computed with
/// the vector operation its own kernel uses, and sums keep the fixed chunks of <c>Kernels.sum32</c> /
/// <c>sum64</c>: results never depend on fusion, or on the thread count.
and [<AbstractClass; Sealed>] internal Fusion =
    /// Kernels by loop type (one per expression shape met so far), as Action<FusedCursor<'T>, int, int>.
    static member val private Kernels = Collections.Concurrent.ConcurrentDictionary<Type, obj>()

    /// Deferred results smaller than this are computed at once: an elementwise pass over data that fits
    /// in the L2 cache costs little, and per-op overhead matters more there.
    static member Threshold = 131072

    /// Most deferred operations in one expression, counted per occurrence (each is computed once per use).
    static member private MaxNodes = 16

    /// Most expressions one deferred tensor may feed before it is computed (each consumer computed on
    /// its own recomputes it).
    static member private MaxCaptures = 3

    /// Most results computed by one fused kernel (more are computed in further kernels).
    static member private MaxOutputs = 4

    /// Whether large elementwise results are deferred (on by default; tests compare both ways).
    static member val Enabled = true with get, set

    /// Whether an elementwise result of this many elements should be deferred.
    static member DefersSize(size: int) = Fusion.Enabled && size >= Fusion.Threshold

    /// Whether an elementwise result of this tensor's size and dtype should be deferred.
    static member Defers(x: Tensor) = x.IsFloatingPoint && Fusion.DefersSize x.Size

    /// Whether the map is exactly rounded (so computing it fused gives the same bits).
    static member IsExact(kernel: TinyTorch.Functional.MapKernel) =
        match kernel with
        | TinyTorch.Functional.MapKernel.Negate
        | TinyTorch.Functional.MapKernel.Relu
        | TinyTorch.Functional.MapKernel.ClampMin _
        | TinyTorch.Functional.MapKernel.ClampMax _
        | TinyTorch.Functional.MapKernel.Step _
        | TinyTorch.Functional.MapKernel.StepBelow _
        | TinyTorch.Functional.MapKernel.Abs
        | TinyTorch.Functional.MapKernel.Sqrt
        | TinyTorch.Functional.MapKernel.Sign -> true
        | _ -> false

    /// A deferred tensor for <paramref name="expression"/>. Operands that would make the expression too
    /// large, or that feed too many expressions already, are computed first; computed operands are
    /// pinned (their arrays must outlive their tensors' last direct use).
    static member Defer(dtype: DType, shape: Shape, expression: Deferred) : Tensor =
        let operands = expression.Operands
        let mutable total = 1

        for o in operands do
            total <- total + o.Nodes

        for o in operands do
            if o.IsDeferred && (total > Fusion.MaxNodes || o.Capture() > Fusion.MaxCaptures) then o.Data |> ignore
            if not o.IsDeferred then o.Pin()

        Tensor(dtype, shape, expression)

    /// The fused op (generic definition) of a zip kernel.
    static member private ZipOp(kernel: TinyTorch.Functional.ZipKernel) : Type =
        match kernel with
        | TinyTorch.Functional.ZipKernel.Add -> typedefof<TinyTorch.Functional.AddOp<float32>>
        | TinyTorch.Functional.ZipKernel.Subtract -> typedefof<TinyTorch.Functional.SubtractOp<float32>>
        | TinyTorch.Functional.ZipKernel.Multiply -> typedefof<TinyTorch.Functional.MultiplyOp<float32>>
        | TinyTorch.Functional.ZipKernel.Divide -> typedefof<TinyTorch.Functional.DivideOp<float32>>
        | TinyTorch.Functional.ZipKernel.Maximum -> typedefof<TinyTorch.Functional.MaximumOp<float32>>
        | TinyTorch.Functional.ZipKernel.Minimum -> typedefof<TinyTorch.Functional.MinimumOp<float32>>
        | TinyTorch.Functional.ZipKernel.SafeMultiply -> typedefof<TinyTorch.Functional.SafeMultiplyOp<float32>>

    /// The kernel node type of x's expression, a tree (an operand used twice appears twice), adding what
    /// its nodes bind to the lists in the order they bind it (see FusedCursor): computed operands to
    /// <paramref name="leaves"/>, numbers to <paramref name="scalars"/>.
    static member private NodeType<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType>
        (x: Tensor, shared: Tensor, number: float -> 'T, leaves: List<Tensor>, scalars: List<'T>) : Type =
        let t = typeof<'T>
        let fill (value: float) = fun () -> scalars.Add(number value); TinyTorch.Functional.FusedTypes.fill.MakeGenericType t
        let operand (y: Tensor) = fun () -> Fusion.NodeType<'T>(y, shared, number, leaves, scalars)
        // Operands are thunks, built in bind order: the op's parameters (already added), then a, then b.
        let unary (op: Type) (a: unit -> Type) = TinyTorch.Functional.FusedTypes.unary.MakeGenericType(t, op.MakeGenericType t, a ())

        let binary (op: Type) (a: unit -> Type) (b: unit -> Type) =
            let ta = a ()
            TinyTorch.Functional.FusedTypes.binary.MakeGenericType(t, op.MakeGenericType t, ta, b ())

        let parameters (values: float list) = for v in values do scalars.Add(number v)

        match x.Deferred with
        | _ when obj.ReferenceEquals(x, shared) -> TinyTorch.Functional.FusedTypes.shared.MakeGenericType t
        | e when obj.ReferenceEquals(e, null) ->
            leaves.Add x
            TinyTorch.Functional.FusedTypes.leaf.MakeGenericType t
        | Deferred.Fill v -> fill v ()
        | Deferred.Map(kernel, a) ->
            match kernel with
            | TinyTorch.Functional.MapKernel.Negate -> unary typedefof<TinyTorch.Functional.NegateOp<float32>> (operand a)
            | TinyTorch.Functional.MapKernel.Abs -> unary typedefof<TinyTorch.Functional.AbsOp<float32>> (operand a)
            | TinyTorch.Functional.MapKernel.Sqrt -> unary typedefof<TinyTorch.Functional.SqrtOp<float32>> (operand a)
            | TinyTorch.Functional.MapKernel.Sign -> unary typedefof<TinyTorch.Functional.SignOp<float32>> (operand a)
            | TinyTorch.Functional.MapKernel.Step(threshold, at) ->
                parameters [ threshold; at ]
                unary typedefof<TinyTorch.Functional.StepOp<float32>> (operand a)
            | TinyTorch.Functional.MapKernel.StepBelow(threshold, at) ->
                parameters [ threshold; at ]
                unary typedefof<TinyTorch.Functional.StepBelowOp<float32>> (operand a)
            // relu and the clamps are TensorPrimitives.Max/Min against a number.
            | TinyTorch.Functional.MapKernel.Relu -> binary typedefof<TinyTorch.Functional.MaximumOp<float32>> (operand a) (fill 0.0)
            | TinyTorch.Functional.MapKernel.ClampMin lower -> binary typedefof<TinyTorch.Functional.MaximumOp<float32>> (operand a) (fill lower)
            | TinyTorch.Functional.MapKernel.ClampMax upper -> binary typedefof<TinyTorch.Functional.MinimumOp<float32>> (operand a) (fill upper)
            | k -> invalidOp (sprintf "fusion: %A is not deferred." k)
        | Deferred.Zip(kernel, a, b) -> binary (Fusion.ZipOp kernel) (operand a) (operand b)
        | Deferred.ZipScalar(kernel, s, scalarFirst, a) ->
            if scalarFirst then binary (Fusion.ZipOp kernel) (fill s) (operand a) else binary (Fusion.ZipOp kernel) (operand a) (fill s)
        | Deferred.StepMultiply(threshold, at, g, y) ->
            parameters [ threshold; at ]
            binary typedefof<TinyTorch.Functional.StepMultiplyOp<float32>> (operand g) (operand y)

    /// Runs the expressions of <paramref name="roots"/> (one dtype and size) in one fused kernel: root i
    /// into dests[i], or, with <paramref name="partials"/>, the single root into a per-thread chunk
    /// buffer whose <paramref name="sum"/> goes to partials[chunk].
    static member private Run<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType>
        (roots: Tensor[], dests: 'T[][], partials: 'T[], number: float -> 'T, sum: 'T[] -> int -> int -> 'T) : unit =
        let leaves, scalars = List<Tensor>(), List<'T>()
        let t = typeof<'T>
        // The deferred tensor that the roots' expression trees use most often (twice at least; the
        // largest on a tie) is computed once per step and shared: the gradients of one expression
        // usually all read its cotangent.
        let uses = Dictionary<Tensor, int>(HashIdentity.Reference)

        let rec count (x: Tensor) =
            if x.IsDeferred then
                uses[x] <- (match uses.TryGetValue x with | true, k -> k + 1 | _ -> 1)
                for o in x.Deferred.Operands do count o

        for r in roots do count r

        let shared =
            uses |> Seq.filter (fun kv -> kv.Value >= 2) |> Seq.sortByDescending (fun kv -> struct (kv.Key.Nodes, kv.Value)) |> Seq.tryHead
            |> Option.map (fun kv -> kv.Key) |> Option.toObj

        // Bind order: the shared expression, then each output's array and expression.
        let sharedType =
            if isNull shared then TinyTorch.Functional.FusedTypes.shared.MakeGenericType t
            else Fusion.NodeType<'T>(shared, null, number, leaves, scalars)

        let nodes = roots |> Array.map (fun r -> Fusion.NodeType<'T>(r, shared, number, leaves, scalars))
        let mutable outputs = TinyTorch.Functional.FusedTypes.noOutputs.MakeGenericType t

        for i in nodes.Length - 1 .. -1 .. 0 do
            outputs <- TinyTorch.Functional.FusedTypes.output.MakeGenericType(t, nodes[i], outputs)

        let loop = TinyTorch.Functional.FusedTypes.loop.MakeGenericType(t, sharedType, outputs)

        let kernel =
            Fusion.Kernels.GetOrAdd(loop, fun l ->
                l.GetMethod("Run", Reflection.BindingFlags.Static ||| Reflection.BindingFlags.Public ||| Reflection.BindingFlags.NonPublic).CreateDelegate(typeof<Action<TinyTorch.Functional.FusedCursor<'T>, int, int>>) |> box)
            :?> Action<TinyTorch.Functional.FusedCursor<'T>, int, int>

        let arrays = leaves |> Seq.map (fun l -> l.Data :?> 'T[]) |> Seq.toArray
        let scalars = scalars.ToArray()
        let w = Runtime.Intrinsics.Vector512<'T>.Count

        TinyTorch.Functional.Kernels.forRanges roots[0].Size (fun start count ->
            if isNull partials then
                kernel.Invoke(TinyTorch.Functional.FusedCursor<'T>(arrays, scalars, dests |> Array.map (fun d -> struct (d, 0))), start, count)
            else
                // The chunk's values go to buffer[w ..]: the kernel's last vector may start up to w elements early.
                let buffer = ChunkBuffer<'T>.Get(TinyTorch.Functional.Kernels.ChunkSize + w)
                kernel.Invoke(TinyTorch.Functional.FusedCursor<'T>(arrays, scalars, [| struct (buffer, w - start) |]), start, count)
                partials[start / TinyTorch.Functional.Kernels.ChunkSize] <- sum buffer w count)

        // The operands' arrays were read above: their tensors (and so their pooled arrays) live until here.
        GC.KeepAlive leaves

    /// Runs roots of one dtype and size into new arrays, at most MaxOutputs per kernel.
    static member private RunInto(roots: Tensor[]) : Array[] =
        let size = roots[0].Size

        if roots[0].DType = DType.Float32 then
            let dests = roots |> Array.map (fun _ -> TinyTorch.Functional.Pool.rent<float32> size false)
            for batch in Array.chunkBySize Fusion.MaxOutputs (Array.zip roots dests) do
                Fusion.Run<float32>(Array.map fst batch, Array.map snd batch, null, float32, fun _ _ _ -> 0.0f)
            dests |> Array.map (fun d -> d :> Array)
        else
            let dests = roots |> Array.map (fun _ -> TinyTorch.Functional.Pool.rent<float> size false)
            for batch in Array.chunkBySize Fusion.MaxOutputs (Array.zip roots dests) do
                Fusion.Run<float>(Array.map fst batch, Array.map snd batch, null, id, fun _ _ _ -> 0.0)
            dests |> Array.map (fun d -> d :> Array)

    /// Computes a deferred tensor (at most once: concurrent readers wait) and returns its array.
    static member Compute(x: Tensor) : Array =
        lock x (fun () ->
            if x.IsDeferred then x.Adopt (Fusion.RunInto [| x |]).[0] |> ignore
            x.Data)

    /// Computes deferred tensors together: results of one dtype and size in one pass (up to
    /// MaxOutputs at a time), reading each operand once.
    static member ComputeAll(tensors: Tensor seq) : unit =
        // Usually nothing is deferred (small tensors, scalar graphs): one cheap pass, no grouping.
        let mutable deferred: List<Tensor> = null

        for t in tensors do
            if not (isNull t) && t.IsDeferred then
                if isNull deferred then deferred <- List<Tensor>()
                deferred.Add t

        if not (isNull deferred) then
            for group in deferred |> Seq.distinct |> Seq.groupBy (fun t -> struct (t.DType, t.Size)) do
                let roots = Seq.toArray (snd group)

                if roots.Length = 1 then
                    Fusion.Compute roots[0] |> ignore
                else
                    let dests = Fusion.RunInto roots

                    for i in 0 .. roots.Length - 1 do
                        roots[i].Adopt dests[i] |> ignore

    /// The sum of a deferred float tensor's elements, bit for bit <c>Kernels.sum32</c>/<c>sum64</c> of its
    /// computed array (the same chunks, each summed by TensorPrimitives), without writing that array.
    static member Sum(x: Tensor) : float =
        let chunks = TinyTorch.Functional.Parallel.chunkCount x.Size TinyTorch.Functional.Kernels.ChunkSize

        if x.DType = DType.Float32 then
            let partials = Array.zeroCreate<float32> chunks
            Fusion.Run<float32>([| x |], null, partials, float32, fun b at count -> TensorPrimitives.Sum(ReadOnlySpan<float32>(b, at, count)))
            if chunks = 1 then float partials[0]
            else
                let mutable total = 0.0f
                for p in partials do total <- total + p
                float total
        else
            let partials = Array.zeroCreate<float> chunks
            Fusion.Run<float>([| x |], null, partials, id, fun b at count -> TensorPrimitives.Sum(ReadOnlySpan<float>(b, at, count)))
            if chunks = 1 then partials[0]
            else
                let mutable total = 0.0
                for p in partials do total <- total + p
                total

/// A per-thread buffer for one chunk of a summed fused result.
and [<AbstractClass; Sealed>] internal ChunkBuffer<'T> =
    [<ThreadStatic; DefaultValue>]
    static val mutable private buffer: 'T[]

    /// This thread's buffer, at least <paramref name="length"/> long.
    static member Get(length: int) : 'T[] =
        if isNull ChunkBuffer<'T>.buffer || ChunkBuffer<'T>.buffer.Length < length then ChunkBuffer<'T>.buffer <- Array.zeroCreate length
        ChunkBuffer<'T>.buffer

/// Tensor-level functions: the kernels with dtype dispatch, broadcasting and promotion.
/// These compute values only; <c>TinyTorch.Functional.Node</c> records them for differentiation.
[<RequireQualifiedAccess>]
module Tensor =
    open TinyTorch.Functional

    /// PyTorch's promotion for two floating operands: float32 with float64 gives float64, except
    /// that a 0-d operand does not promote an operand of higher rank (<c>x * 2.0</c> stays float32).
    let promote (aRank: int, aType: DType) (bRank: int, bType: DType) : DType =
        if aType = bType then aType
        elif aRank = 0 && bRank > 0 then bType
        elif bRank = 0 && aRank > 0 then aType
        else DType.Float64

    /// Throws unless <paramref name="x"/> is float32 or float64: arithmetic and gradients need floats.
    let requireFloat (operation: string) (x: Tensor) =
        if not x.IsFloatingPoint then
            raise (ArgumentException(sprintf "%s: this op needs a floating-point tensor, but got a %O tensor of shape %O. Convert it first (e.g. ToFloat64())." operation x.DType x.Shape))

    /// A function over arrays of any element type (lets one kernel call serve every dtype).
    type internal ArrayFunction =
        abstract Apply<'T> : 'T[] -> 'T[]

    // Every entry point below that hands an input's array to a kernel keeps the input tensor alive
    // (GC.KeepAlive) until the kernel is done: otherwise a pooled input that is otherwise dead could be
    // finalized mid-kernel and its array rented again, even as this kernel's own output. Kernel
    // outputs come from Pool.rent and are wrapped exactly once with Tensor.Rented.

    /// Runs a dtype-generic kernel on the data and wraps the result with <paramref name="shape"/>.
    let internal applyGeneric (f: ArrayFunction) (shape: Shape) (x: Tensor) : Tensor =
        let data: Array =
            match x.Data with
            | :? (float[]) as d -> f.Apply d
            | :? (float32[]) as d -> f.Apply d
            | :? (int[]) as d -> f.Apply d
            | d -> f.Apply(d :?> int64[])

        GC.KeepAlive x
        Tensor.Rented(x.DType, shape, data)

    // The elementwise kernels below defer large float results that are exactly rounded (Fusion), so
    // a chain of them runs as one fused pass when its result is read.

    let internal map (kernel: MapKernel) (x: Tensor) : Tensor =
        if Fusion.Defers x && Fusion.IsExact kernel then Fusion.Defer(x.DType, x.Shape, Deferred.Map(kernel, x))
        else
            let data: Array = if x.DType = DType.Float32 then Kernels.map32 kernel x.Single else Kernels.map64 kernel x.Double
            GC.KeepAlive x
            Tensor.Rented(x.DType, x.Shape, data)

    /// Elementwise kernel on two tensors of identical shape and dtype.
    let internal zipSame (kernel: ZipKernel) (a: Tensor) (b: Tensor) : Tensor =
        if Fusion.Defers a then Fusion.Defer(a.DType, a.Shape, Deferred.Zip(kernel, a, b))
        else
            let data: Array = if a.DType = DType.Float32 then Kernels.zip32 kernel a.Single b.Single else Kernels.zip64 kernel a.Double b.Double
            GC.KeepAlive a
            GC.KeepAlive b
            Tensor.Rented(a.DType, a.Shape, data)

    /// g·step(x) elementwise, 0 wherever g is 0 (g and x of one shape and dtype): the cotangent of
    /// relu and clamp in one pass.
    let internal stepMultiply (threshold: float) (atThreshold: float) (g: Tensor) (x: Tensor) : Tensor =
        if Fusion.Defers g then
            Fusion.Defer(g.DType, g.Shape, Deferred.StepMultiply(threshold, atThreshold, g, x))
        else
            let data: Array =
                if g.DType = DType.Float32 then Kernels.stepMultiply32 threshold atThreshold g.Single x.Single
                else Kernels.stepMultiply64 threshold atThreshold g.Double x.Double

            GC.KeepAlive g
            GC.KeepAlive x
            Tensor.Rented(g.DType, g.Shape, data)

    /// The same values in another dtype (the same tensor when it already has that dtype); floats
    /// convert to integers by truncation toward zero.
    let cast (dtype: DType) (x: Tensor) : Tensor =
        if x.DType = dtype then x
        else
            match dtype, x.DType with
            | DType.Float32, DType.Float64 ->
                let src = x.Double
                let dst = Pool.rent<float32> src.Length false
                Kernels.forRanges src.Length (fun start count -> System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<float, float32>(ReadOnlySpan<float>(src, start, count), Span<float32>(dst, start, count)))
                GC.KeepAlive x
                Tensor.Rented(dtype, x.Shape, dst)
            | DType.Float64, DType.Float32 ->
                let src = x.Single
                let dst = Pool.rent<float> src.Length false
                Kernels.forRanges src.Length (fun start count -> System.Numerics.Tensors.TensorPrimitives.ConvertChecked<float32, float>(ReadOnlySpan<float32>(src, start, count), Span<float>(dst, start, count)))
                GC.KeepAlive x
                Tensor.Rented(dtype, x.Shape, dst)
            | DType.Float32, _ -> Tensor.Wrap(x.Shape, x.ToSingleArray())
            | DType.Float64, _ -> Tensor.Wrap(x.Shape, x.ToArray())
            | DType.Int32, _ -> Tensor.WrapAs(DType.Int32, x.Shape, Array.init x.Size (fun i -> int (x.GetInt64Flat i)))
            | _ -> Tensor.Wrap(x.Shape, x.ToInt64Array())

    /// Broadcasts <paramref name="x"/> to <paramref name="shape"/> (NumPy rules; a copy).
    let expand (shape: Shape) (x: Tensor) : Tensor =
        if x.Shape.Equals shape then x
        elif not (Shape.broadcastsTo x.Shape shape) then
            raise (ShapeMismatchException("expand", x.Shape, shape, -1, sprintf "expand: shape %O cannot be broadcast to %O: it needs the same or a lower rank, and each of its trailing sizes must equal the target's or be 1." x.Shape shape))
        elif x.Size = 1 && x.IsFloatingPoint && Fusion.DefersSize shape.Size then
            Fusion.Defer(x.DType, shape, Deferred.Fill(x.GetFlat 0))
        else
            applyGeneric { new ArrayFunction with member _.Apply d = Kernels.expand d x.Shape.Dims shape.Dims } shape x

    /// Sums <paramref name="x"/> over the dimensions along which <paramref name="shape"/> was broadcast:
    /// the adjoint of <see cref="expand"/>.
    let sumTo (shape: Shape) (x: Tensor) : Tensor =
        if x.Shape.Equals shape then x
        elif not (Shape.broadcastsTo shape x.Shape) then
            raise (ShapeMismatchException("sum_to", x.Shape, shape, -1, sprintf "sum_to: shape %O cannot be summed to %O, which does not broadcast to it." x.Shape shape))
        else
            let data: Array = if x.DType = DType.Float32 then Kernels.sumTo32 x.Single x.Shape.Dims shape.Dims else Kernels.sumTo64 x.Double x.Shape.Dims shape.Dims
            GC.KeepAlive x
            Tensor.Rented(x.DType, shape, data)

    /// The same elements with another shape of the same size (no copy: tensors are immutable).
    let reshape (shape: Shape) (x: Tensor) : Tensor = x.View shape

    /// Reorders dimensions: result dimension i is input dimension perm[i] (validated by the caller).
    let permute (perm: int[]) (x: Tensor) : Tensor =
        let shape = Shape.Of(perm |> Array.map (fun p -> x.Shape[p]))
        applyGeneric { new ArrayFunction with member _.Apply d = Kernels.permute d x.Shape.Dims perm } shape x

    let private withAxis (x: Tensor) (axis: int) (size: int) =
        Shape.Of(Array.updateAt axis size (x.Shape.ToArray()))

    /// Elements start, start + step, … (length of them) along axis (validated by the caller).
    let slice (axis: int) (start: int) (length: int) (step: int) (x: Tensor) : Tensor =
        applyGeneric { new ArrayFunction with member _.Apply d = Kernels.slice d x.Shape.Dims axis start length step } (withAxis x axis length) x

    /// Places x at positions start, start + step, … along axis of zeros with <paramref name="size"/> there.
    let sliceScatter (axis: int) (start: int) (step: int) (size: int) (x: Tensor) : Tensor =
        applyGeneric { new ArrayFunction with member _.Apply d = Kernels.sliceScatter d x.Shape.Dims axis start step size } (withAxis x axis size) x

    /// Joins tensors of one dtype along axis (other dimensions equal; validated by the caller).
    let concat (axis: int) (parts: Tensor[]) : Tensor =
        let dims = parts |> Array.map (fun p -> p.Shape.Dims)
        let shape = withAxis parts[0] axis (dims |> Array.sumBy (fun d -> d[axis]))
        let data: Array =
            match parts[0].Data with
            | :? (float[]) -> Kernels.concat (parts |> Array.map (fun p -> p.Double)) dims axis
            | :? (float32[]) -> Kernels.concat (parts |> Array.map (fun p -> p.Single)) dims axis
            | :? (int[]) -> Kernels.concat (parts |> Array.map (fun p -> p.Data :?> int[])) dims axis
            | _ -> Kernels.concat (parts |> Array.map (fun p -> p.Data :?> int64[])) dims axis

        GC.KeepAlive parts
        Tensor.Rented(parts[0].DType, shape, data)

    /// The elements of an integer tensor as int32 indices.
    let internal indices (index: Tensor) = Array.init index.Size (fun i -> int (index.GetInt64Flat i))

    /// The slices at the given positions along axis (validated by the caller).
    let indexSelect (axis: int) (index: Tensor) (x: Tensor) : Tensor =
        let ix = indices index
        applyGeneric { new ArrayFunction with member _.Apply d = Kernels.indexSelect d x.Shape.Dims axis ix } (withAxis x axis ix.Length) x

    /// Adds the slices of x into positions index[j] along axis of zeros with <paramref name="size"/> there.
    let indexAdd (axis: int) (index: Tensor) (size: int) (x: Tensor) : Tensor =
        let ix = indices index
        let shape = withAxis x axis size
        let data: Array = if x.DType = DType.Float32 then Kernels.indexAdd x.Single x.Shape.Dims axis ix size else Kernels.indexAdd x.Double x.Shape.Dims axis ix size
        GC.KeepAlive x
        Tensor.Rented(x.DType, shape, data)

    /// PyTorch's gather: out[…, j, …] = x[…, index[…, j, …], …] along axis; the result has index's shape.
    let gather (axis: int) (index: Tensor) (x: Tensor) : Tensor =
        let ix = indices index
        applyGeneric { new ArrayFunction with member _.Apply d = Kernels.gather d x.Shape.Dims axis ix index.Shape.Dims } index.Shape x

    /// The adjoint of gather: adds x (index's shape) into zeros of <paramref name="shape"/> at index along axis.
    let scatterAdd (axis: int) (index: Tensor) (shape: Shape) (x: Tensor) : Tensor =
        let ix = indices index
        let data: Array = if x.DType = DType.Float32 then Kernels.scatterAdd x.Single ix index.Shape.Dims axis shape.Dims else Kernels.scatterAdd x.Double ix index.Shape.Dims axis shape.Dims
        GC.KeepAlive x
        Tensor.Rented(x.DType, shape, data)

    /// Positions of the maximum (or minimum) along axis, first on ties, as an int64 tensor with the axis kept as size 1.
    let argExtreme (largest: bool) (axis: int) (x: Tensor) : Tensor =
        let lastAxis = axis = x.Rank - 1 && x.Shape[axis] > 0

        let positions =
            match x.Data with
            | :? (float[]) as d when lastAxis -> Kernels.argExtremeLastAxis64 largest d x.Shape[axis]
            | :? (float32[]) as d when lastAxis -> Kernels.argExtremeLastAxis32 largest d x.Shape[axis]
            | :? (float[]) as d -> Kernels.argExtreme largest d x.Shape.Dims axis
            | :? (float32[]) as d -> Kernels.argExtreme largest d x.Shape.Dims axis
            | :? (int[]) as d -> Kernels.argExtreme largest d x.Shape.Dims axis
            | d -> Kernels.argExtreme largest (d :?> int64[]) x.Shape.Dims axis

        GC.KeepAlive x
        Tensor.Wrap(withAxis x axis 1, Array.map int64 positions)

    /// Batched matrix product of tensors with equal batch dimensions: [..., m, k] · [..., k, n]
    /// (each operand optionally stored transposed in its last two dimensions).
    let matmulSame (transA: bool) (transB: bool) (a: Tensor) (b: Tensor) : Tensor =
        let r = a.Rank
        let m = if transA then a.Shape[r - 1] else a.Shape[r - 2]
        let k = if transA then a.Shape[r - 2] else a.Shape[r - 1]
        let n = if transB then b.Shape[r - 2] else b.Shape[r - 1]
        let batch = a.Shape.ToArray()[.. r - 3] |> Array.fold (*) 1
        let shape = Shape.Of(Array.append (a.Shape.ToArray()[.. r - 3]) [| m; n |])

        // The GEMM overwrites C, except that with k = 0 it may not touch it: then C must start at zeros.
        let result =
            if a.DType = DType.Float32 then
                let c = Pool.rent<float32> shape.Size (k = 0)
                for i in 0 .. batch - 1 do
                    Gemm.gemm32 transA transB m n k a.Single (i * m * k) b.Single (i * k * n) c (i * m * n)
                Tensor.Rented(a.DType, shape, c)
            else
                let c = Pool.rent<float> shape.Size (k = 0)
                for i in 0 .. batch - 1 do
                    Gemm.gemm64 transA transB m n k a.Double (i * m * k) b.Double (i * k * n) c (i * m * n)
                Tensor.Rented(a.DType, shape, c)

        GC.KeepAlive a
        GC.KeepAlive b
        result

    /// Elementwise choice: where condition is nonzero take a, else b (all three the same shape).
    let whereSame (condition: Tensor) (a: Tensor) (b: Tensor) : Tensor =
        let choose (x: 'T[]) (y: 'T[]) =
            let dst = Pool.rent<'T> x.Length false

            match condition.Data with
            | :? (float32[]) as c -> for i in 0 .. dst.Length - 1 do dst[i] <- if c[i] <> 0.0f then x[i] else y[i]
            | :? (float[]) as c -> for i in 0 .. dst.Length - 1 do dst[i] <- if c[i] <> 0.0 then x[i] else y[i]
            | _ -> for i in 0 .. dst.Length - 1 do dst[i] <- if condition.GetInt64Flat i <> 0L then x[i] else y[i]

            dst

        let data: Array = if a.DType = DType.Float32 then choose a.Single b.Single else choose a.Double b.Double
        GC.KeepAlive condition
        GC.KeepAlive a
        GC.KeepAlive b
        Tensor.Rented(a.DType, a.Shape, data)

    /// The sum of all elements as a 0-d tensor of the same dtype. Python course: <c>sum_all</c>.
    let sumAll (x: Tensor) : Tensor =
        if x.IsDeferred then
            if x.DType = DType.Float32 then Tensor.Wrap(Shape.Scalar, [| float32 (Fusion.Sum x) |]) else Tensor.Wrap(Shape.Scalar, [| Fusion.Sum x |])
        else
            let result = if x.DType = DType.Float32 then Tensor.Wrap(Shape.Scalar, [| Kernels.sum32 x.Single |]) else Tensor.Wrap(Shape.Scalar, [| Kernels.sum64 x.Double |])
            GC.KeepAlive x
            result

    /// Broadcasting, promoting elementwise kernel; <paramref name="name"/> appears in shape errors.
    let internal zip (name: string) (kernel: ZipKernel) (a: Tensor) (b: Tensor) : Tensor =
        let shape = Shape.broadcast name a.Shape b.Shape
        let dtype = promote (a.Rank, a.DType) (b.Rank, b.DType)
        let a, b = cast dtype a, cast dtype b

        // One operand a single number (x * 2.0, lr · grad): no broadcast copy of it.
        let withScalar (x: Tensor) (s: Tensor) (scalarFirst: bool) =
            if Fusion.Defers x then
                Fusion.Defer(dtype, shape, Deferred.ZipScalar(kernel, s.GetFlat 0, scalarFirst, x))
            else
                let data: Array =
                    if dtype = DType.Float32 then Kernels.zipScalar32 kernel x.Single s.Single[0] scalarFirst
                    else Kernels.zipScalar64 kernel x.Double s.Double[0] scalarFirst

                GC.KeepAlive x
                Tensor.Rented(dtype, shape, data)

        if Kernels.zipTakesScalar kernel && b.Size = 1 && a.Size > 1 && a.Shape.Equals shape then withScalar a b false
        elif Kernels.zipTakesScalar kernel && a.Size = 1 && b.Size > 1 && b.Shape.Equals shape then withScalar b a true
        else zipSame kernel (expand shape a) (expand shape b)

    /// Elementwise sum with broadcasting.
    let add a b = zip "add" ZipKernel.Add a b
    /// Elementwise difference with broadcasting.
    let subtract a b = zip "subtract" ZipKernel.Subtract a b
    /// Elementwise product with broadcasting.
    let multiply a b = zip "multiply" ZipKernel.Multiply a b
    /// Elementwise quotient with broadcasting (IEEE: x / 0 is ±inf or NaN).
    let divide a b = zip "divide" ZipKernel.Divide a b
    /// Elementwise negation.
    let negate x = map MapKernel.Negate x
    /// A 0-d tensor holding <paramref name="value"/> in the dtype of <paramref name="like"/>.
    let scalarLike (value: float) (like: Tensor) = Tensor.Scalar(value, like.DType)
    /// Zeros with the shape and dtype of <paramref name="like"/>.
    let zerosLike (like: Tensor) = Tensor.Zeros(like.Shape, like.DType)

    /// Whether <c>zero + g</c> equals <c>g</c> bit for bit, so that an accumulation may keep g itself:
    /// true when both are 0-d floating tensors of one dtype and zero is ±0, except +0 + −0 (which is +0).
    /// −0 is the additive identity of IEEE arithmetic; +0 is one for every value but −0.
    let addsNothing (zero: Tensor) (g: Tensor) =
        zero.Shape.Rank = 0
        && g.Shape.Rank = 0
        && zero.DType = g.DType
        && zero.IsFloatingPoint
        && (let z = zero.Item()
            z = 0.0 && (Double.IsNegative z || not (g.Item() = 0.0 && Double.IsNegative(g.Item()))))
    /// Ones with the shape and dtype of <paramref name="like"/>.
    let onesLike (like: Tensor) = Tensor.Ones(like.Shape, like.DType)

    /// Computes the deferred ones among <paramref name="tensors"/> now, together (operations they share
    /// computed once): for results a caller hands on, such as the gradients a backward pass leaves.
    let materialize (tensors: Tensor seq) : unit = Fusion.ComputeAll(notNull "tensors" tensors)

    /// Euclidean norm of all elements of all tensors together, in float64, without overflow or
    /// underflow: the largest magnitude is factored out before squaring. NaN if any element is
    /// NaN, +inf if any is infinite.
    let globalNorm (tensors: Tensor seq) : float =
        let tensors = Seq.toArray (notNull "tensors" tensors)
        let mutable largest = 0.0
        let mutable nan = false

        for t in tensors do
            for i in 0 .. t.Size - 1 do
                let v = abs (t.GetFlat i)
                if Double.IsNaN v then nan <- true elif v > largest then largest <- v

        if nan then Double.NaN
        elif largest = 0.0 || Double.IsInfinity largest then largest
        else
            let mutable sum = 0.0

            for t in tensors do
                for i in 0 .. t.Size - 1 do
                    let r = t.GetFlat i / largest
                    sum <- sum + r * r

            largest * sqrt sum

    /// Scales all tensors together so that their global norm is at most <paramref name="maxNorm"/>.
    /// Returns the (possibly unchanged) tensors and the norm before clipping. A NaN or infinite norm
    /// leaves the tensors unchanged: no finite scale could fix them, and scaling by 0 would hide them.
    let clipByGlobalNorm (maxNorm: float) (tensors: Tensor[]) : struct (Tensor[] * float) =
        if not (maxNorm > 0.0) then
            raise (ArgumentOutOfRangeException("maxNorm", maxNorm, "clip_gradients: maxNorm must be a positive number."))

        let norm = globalNorm tensors

        if norm > maxNorm && not (Double.IsInfinity norm) then
            let scale = maxNorm / norm
            struct (tensors |> Array.map (fun t -> multiply t (scalarLike scale t)), norm)
        else
            struct (tensors, norm)

    /// Elementwise square root (NaN below 0), vectorized. PyTorch: <c>torch.sqrt</c>.
    let sqrt (x: Tensor) : Tensor =
        requireFloat "sqrt" (notNull "x" x)
        map MapKernel.Sqrt x

/// Arithmetic operators on tensors (intrinsic: C# sees them as operators).
type Tensor with
    /// Elementwise sum with broadcasting.
    static member (+)(a: Tensor, b: Tensor) = Tensor.add (notNull "a" a) (notNull "b" b)
    /// Elementwise difference with broadcasting.
    static member (-)(a: Tensor, b: Tensor) = Tensor.subtract (notNull "a" a) (notNull "b" b)
    /// Elementwise product with broadcasting.
    static member (*)(a: Tensor, b: Tensor) = Tensor.multiply (notNull "a" a) (notNull "b" b)
    /// Elementwise quotient with broadcasting.
    static member (/)(a: Tensor, b: Tensor) = Tensor.divide (notNull "a" a) (notNull "b" b)
    /// Adds a number (kept in the tensor's dtype).
    static member (+)(a: Tensor, b: float) = Tensor.add (notNull "a" a) (Tensor.scalarLike b a)
    /// Adds a number (kept in the tensor's dtype).
    static member (+)(a: float, b: Tensor) = Tensor.add (Tensor.scalarLike a (notNull "b" b)) b
    /// Subtracts a number (kept in the tensor's dtype).
    static member (-)(a: Tensor, b: float) = Tensor.subtract (notNull "a" a) (Tensor.scalarLike b a)
    /// Subtracts from a number (kept in the tensor's dtype).
    static member (-)(a: float, b: Tensor) = Tensor.subtract (Tensor.scalarLike a (notNull "b" b)) b
    /// Multiplies by a number (kept in the tensor's dtype).
    static member (*)(a: Tensor, b: float) = Tensor.multiply (notNull "a" a) (Tensor.scalarLike b a)
    /// Multiplies by a number (kept in the tensor's dtype).
    static member (*)(a: float, b: Tensor) = Tensor.multiply (Tensor.scalarLike a (notNull "b" b)) b
    /// Divides by a number (kept in the tensor's dtype).
    static member (/)(a: Tensor, b: float) = Tensor.divide (notNull "a" a) (Tensor.scalarLike b a)
    /// Divides a number by each element (kept in the tensor's dtype).
    static member (/)(a: float, b: Tensor) = Tensor.divide (Tensor.scalarLike a (notNull "b" b)) b
    /// Elementwise negation.
    static member (~-)(a: Tensor) = Tensor.negate (notNull "a" a)
    /// The same values as float64.
    member this.ToFloat64() = Tensor.cast DType.Float64 this
    /// The same values as float32 (rounded).
    member this.ToFloat32() = Tensor.cast DType.Float32 this
    /// A mask of ones where an element exceeds <paramref name="b"/>, zeros elsewhere (same dtype), e.g. for <c>Where</c>.
    static member op_GreaterThan(a: Tensor, b: float) = Tensor.requireFloat ">" (notNull "a" a); Tensor.map (TinyTorch.Functional.MapKernel.Step(b, 0.0)) a
    /// A mask of ones where an element is below <paramref name="b"/>, zeros elsewhere (same dtype).
    static member op_LessThan(a: Tensor, b: float) = Tensor.requireFloat "<" (notNull "a" a); Tensor.map (TinyTorch.Functional.MapKernel.StepBelow(b, 0.0)) a
    /// A mask of ones where an element is at least <paramref name="b"/>, zeros elsewhere (same dtype).
    static member op_GreaterThanOrEqual(a: Tensor, b: float) = Tensor.requireFloat ">=" (notNull "a" a); Tensor.map (TinyTorch.Functional.MapKernel.Step(b, 1.0)) a
    /// A mask of ones where an element is at most <paramref name="b"/>, zeros elsewhere (same dtype).
    static member op_LessThanOrEqual(a: Tensor, b: float) = Tensor.requireFloat "<=" (notNull "a" a); Tensor.map (TinyTorch.Functional.MapKernel.StepBelow(b, 1.0)) a
