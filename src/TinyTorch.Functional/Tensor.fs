namespace TinyTorch

open System

/// An immutable dense n-d array of float32 or float64, row-major; rank 0 (a scalar) upward.
/// <remarks>Python course: <c>Tensor</c>. Nothing mutates a tensor after construction.</remarks>
[<Sealed; AllowNullLiteral>]
type Tensor internal (dtype: DType, shape: Shape, single: float32[], double: float[]) =

    static let copy2d (values: 'T[,]) =
        let rows, cols = Array2D.length1 values, Array2D.length2 values
        Array.init (rows * cols) (fun i -> values[i / cols, i % cols])

    static let shape2d (values: 'T[,]) = Shape.Of(Array2D.length1 values, Array2D.length2 values)

    static let checkLength (data: Array) (shape: Shape) =
        if data.Length <> shape.Size then
            raise (
                ArgumentException(
                    sprintf "tensor: %d values cannot fill shape %O, which holds %d; pass exactly %d values or change the shape." data.Length shape shape.Size shape.Size,
                    "data"
                )
            )

    /// A float64 scalar (rank 0).
    new(value: float) = Tensor(DType.Float64, Shape.Scalar, null, [| value |])
    /// A float32 scalar (rank 0).
    new(value: float32) = Tensor(DType.Float32, Shape.Scalar, [| value |], null)
    /// A float64 vector holding a copy of <paramref name="values"/>.
    new(values: float[]) = Tensor(DType.Float64, Shape.Of((notNull "values" values).Length), null, Array.copy values)
    /// A float32 vector holding a copy of <paramref name="values"/>.
    new(values: float32[]) = Tensor(DType.Float32, Shape.Of((notNull "values" values).Length), Array.copy values, null)
    /// A float64 matrix holding a copy of <paramref name="values"/>.
    new(values: float[,]) = Tensor(DType.Float64, shape2d (notNull "values" values), null, copy2d values)
    /// A float32 matrix holding a copy of <paramref name="values"/>.
    new(values: float32[,]) = Tensor(DType.Float32, shape2d (notNull "values" values), copy2d values, null)

    /// A float64 tensor of the given shape from row-major <paramref name="data"/> (copied).
    static member FromArray(data: float[], [<ParamArray>] shape: int[]) =
        let shape = Shape.Of(notNull "shape" shape)
        checkLength (notNull "data" data) shape
        Tensor(DType.Float64, shape, null, Array.copy data)

    /// A float32 tensor of the given shape from row-major <paramref name="data"/> (copied).
    static member FromArray(data: float32[], [<ParamArray>] shape: int[]) =
        let shape = Shape.Of(notNull "shape" shape)
        checkLength (notNull "data" data) shape
        Tensor(DType.Float32, shape, Array.copy data, null)

    /// Takes ownership of an array without copying (internal: callers never touch it again).
    static member internal Wrap(shape: Shape, data: float[]) = Tensor(DType.Float64, shape, null, data)
    /// Takes ownership of an array without copying (internal: callers never touch it again).
    static member internal Wrap(shape: Shape, data: float32[]) = Tensor(DType.Float32, shape, data, null)

    /// A tensor of the given shape and dtype with every element equal to <paramref name="value"/>.
    static member Full(shape: Shape, value: float, dtype: DType) =
        let shape = notNull "shape" shape

        match dtype with
        | DType.Float32 -> Tensor(dtype, shape, Array.create shape.Size (float32 value), null)
        | DType.Float64 -> Tensor(dtype, shape, null, Array.create shape.Size value)
        | _ -> raise (ArgumentOutOfRangeException("dtype", dtype, "tensor: dtype must be Float32 or Float64."))

    /// Zeros of the given shape and dtype.
    static member Zeros(shape: Shape, dtype: DType) = Tensor.Full(shape, 0.0, dtype)
    /// Ones of the given shape and dtype.
    static member Ones(shape: Shape, dtype: DType) = Tensor.Full(shape, 1.0, dtype)
    /// A 0-d tensor of the given dtype.
    static member Scalar(value: float, dtype: DType) = Tensor.Full(Shape.Scalar, value, dtype)

    member internal _.Single = single
    member internal _.Double = double

    /// The dimensions.
    member _.Shape = shape
    /// Number of dimensions (0 for a scalar).
    member _.Rank = shape.Rank
    /// Number of elements.
    member _.Size = shape.Size
    /// Element type.
    member _.DType = dtype

    /// Element <paramref name="index"/> in row-major order, widened to double.
    member _.GetFlat(index: int) : float =
        if dtype = DType.Float32 then float single[index] else double[index]

    /// The only element, widened to double. Python course: <c>item()</c>.
    member this.Item() : float =
        if shape.Size <> 1 then
            raise (InvalidOperationException(sprintf "Item() needs a tensor with exactly one element, but this tensor has shape %O (%d elements). Index or reduce it first (e.g. sum)." shape shape.Size))

        this.GetFlat 0

    /// All elements in row-major order, widened to double (a copy).
    member _.ToArray() : float[] =
        if dtype = DType.Float32 then Array.map float single else Array.copy double

    /// All elements in row-major order as float32 (a copy, rounded when this tensor is float64).
    member _.ToSingleArray() : float32[] =
        if dtype = DType.Float32 then Array.copy single else Array.map float32 double

    /// The elements in nested brackets (at most 6 per row shown), e.g. <c>[[1, 2], [3, 4]]</c>,
    /// followed by <c>, dtype=Float32</c> for float32 tensors.
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
        if dtype = DType.Float32 then sb.Append(", dtype=Float32") |> ignore
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

    let internal map (kernel: MapKernel) (x: Tensor) : Tensor =
        if x.DType = DType.Float32 then Tensor.Wrap(x.Shape, Kernels.map32 kernel x.Single)
        else Tensor.Wrap(x.Shape, Kernels.map64 kernel x.Double)

    /// Elementwise kernel on two tensors of identical shape and dtype.
    let internal zipSame (kernel: ZipKernel) (a: Tensor) (b: Tensor) : Tensor =
        if a.DType = DType.Float32 then Tensor.Wrap(a.Shape, Kernels.zip32 kernel a.Single b.Single)
        else Tensor.Wrap(a.Shape, Kernels.zip64 kernel a.Double b.Double)

    /// The same values in another dtype (the same tensor when it already has that dtype).
    let cast (dtype: DType) (x: Tensor) : Tensor =
        if x.DType = dtype then x
        elif dtype = DType.Float32 then Tensor.Wrap(x.Shape, Array.map float32 x.Double)
        else Tensor.Wrap(x.Shape, Array.map float x.Single)

    /// Broadcasts <paramref name="x"/> to <paramref name="shape"/> (NumPy rules; a copy).
    let expand (shape: Shape) (x: Tensor) : Tensor =
        if x.Shape.Equals shape then x
        elif not (Shape.broadcastsTo x.Shape shape) then
            Shape.broadcast "expand" x.Shape shape |> ignore
            raise (ShapeMismatchException("expand", x.Shape, shape, -1, sprintf "expand: shape %O cannot be broadcast to %O; it broadcasts only to shapes of the same or higher rank whose trailing sizes match or where it has size 1." x.Shape shape))
        elif x.DType = DType.Float32 then Tensor.Wrap(shape, Kernels.expand x.Single x.Shape.Dims shape.Dims)
        else Tensor.Wrap(shape, Kernels.expand x.Double x.Shape.Dims shape.Dims)

    /// Sums <paramref name="x"/> over the dimensions along which <paramref name="shape"/> was broadcast:
    /// the adjoint of <see cref="expand"/>.
    let sumTo (shape: Shape) (x: Tensor) : Tensor =
        if x.Shape.Equals shape then x
        elif not (Shape.broadcastsTo shape x.Shape) then
            raise (ShapeMismatchException("sum_to", x.Shape, shape, -1, sprintf "sum_to: shape %O cannot be summed to %O, which does not broadcast to it." x.Shape shape))
        elif x.DType = DType.Float32 then Tensor.Wrap(shape, Kernels.sumTo32 x.Single x.Shape.Dims shape.Dims)
        else Tensor.Wrap(shape, Kernels.sumTo64 x.Double x.Shape.Dims shape.Dims)

    /// The sum of all elements as a 0-d tensor of the same dtype. Python course: <c>sum_all</c>.
    let sumAll (x: Tensor) : Tensor =
        if x.DType = DType.Float32 then Tensor.Wrap(Shape.Scalar, [| Kernels.sum32 x.Single |])
        else Tensor.Wrap(Shape.Scalar, [| Kernels.sum64 x.Double |])

    /// Broadcasting, promoting elementwise kernel; <paramref name="name"/> appears in shape errors.
    let internal zip (name: string) (kernel: ZipKernel) (a: Tensor) (b: Tensor) : Tensor =
        let shape = Shape.broadcast name a.Shape b.Shape
        let dtype = promote (a.Rank, a.DType) (b.Rank, b.DType)
        zipSame kernel (a |> cast dtype |> expand shape) (b |> cast dtype |> expand shape)

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
