namespace TinyTorch

open System

/// An immutable dense n-d array, row-major, rank 0 (a scalar) upward. Floating tensors (float32,
/// float64) carry values and gradients; integer tensors (int32, int64) carry class labels and indices.
/// <remarks>Python course: <c>Tensor</c>. PyTorch: <c>torch.Tensor</c>. Nothing mutates a tensor after construction.</remarks>
[<Sealed; AllowNullLiteral>]
type Tensor internal (dtype: DType, shape: Shape, data: Array, storage: TinyTorch.Functional.Storage) =
    // A pooled array is owned by its storage, which gives it back when no tensor views it; a small
    // (unpooled) array needs no owner but the GC, so its tensors carry no storage object (null).

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
    internal new(dtype: DType, shape: Shape, data: Array) = Tensor(dtype, shape, data, null)
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

    /// The owner of the elements, shared by views (the reverse engine counts references by it).
    member internal _.Storage = storage

    /// The same elements with another shape of the same size, sharing the storage (no copy).
    member internal _.View(newShape: Shape) = Tensor(dtype, newShape, data, storage)

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

    member internal _.Data = data
    member internal _.Single = data :?> float32[]
    member internal _.Double = data :?> float[]

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
    member _.GetFlat(index: int) : float =
        match dtype with
        | DType.Float32 -> float (data :?> float32[]).[index]
        | DType.Float64 -> (data :?> float[]).[index]
        | DType.Int32 -> float (data :?> int[]).[index]
        | _ -> float (data :?> int64[]).[index]

    /// Element <paramref name="index"/> in row-major order as an integer (floats truncate toward zero).
    member _.GetInt64Flat(index: int) : int64 =
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
        let r = if dtype = DType.Float64 then Array.copy (data :?> float[]) else Array.init shape.Size this.GetFlat
        GC.KeepAlive storage
        r

    /// All elements in row-major order as float32 (a copy, rounded when this tensor is float64).
    member this.ToSingleArray() : float32[] =
        let r = if dtype = DType.Float32 then Array.copy (data :?> float32[]) else Array.init shape.Size (this.GetFlat >> float32)
        GC.KeepAlive storage
        r

    /// All elements in row-major order as int64 (a copy; floats truncate toward zero).
    member this.ToInt64Array() : int64[] =
        let r = Array.init shape.Size this.GetInt64Flat
        GC.KeepAlive storage
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

    let internal map (kernel: MapKernel) (x: Tensor) : Tensor =
        let data: Array = if x.DType = DType.Float32 then Kernels.map32 kernel x.Single else Kernels.map64 kernel x.Double
        GC.KeepAlive x
        Tensor.Rented(x.DType, x.Shape, data)

    /// Elementwise kernel on two tensors of identical shape and dtype.
    let internal zipSame (kernel: ZipKernel) (a: Tensor) (b: Tensor) : Tensor =
        let data: Array = if a.DType = DType.Float32 then Kernels.zip32 kernel a.Single b.Single else Kernels.zip64 kernel a.Double b.Double
        GC.KeepAlive a
        GC.KeepAlive b
        Tensor.Rented(a.DType, a.Shape, data)

    /// g·step(x) elementwise, 0 wherever g is 0 (g and x of one shape and dtype): the cotangent of
    /// relu and clamp in one pass.
    let internal stepMultiply (threshold: float) (atThreshold: float) (g: Tensor) (x: Tensor) : Tensor =
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
