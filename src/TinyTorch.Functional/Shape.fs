namespace TinyTorch

open System
open System.Collections
open System.Collections.Generic

/// Element type of a tensor, chosen at run time.
type DType =
    /// 32-bit IEEE floating point (PyTorch <c>torch.float32</c>).
    | Float32 = 0
    /// 64-bit IEEE floating point (PyTorch <c>torch.float64</c>).
    | Float64 = 1
    /// 32-bit integers, for class labels and indices; never requires gradients (PyTorch <c>torch.int32</c>).
    | Int32 = 2
    /// 64-bit integers, for class labels and indices; never requires gradients (PyTorch <c>torch.int64</c>).
    | Int64 = 3

/// How a loss combines the per-element losses.
type Reduction =
    /// The average (for weighted class losses, divided by the total weight of the targets).
    | Mean = 0
    /// The sum.
    | Sum = 1
    /// No reduction: one loss per element (or per sample).
    | None = 2

/// The dimensions of a tensor; printed as <c>[2, 3]</c>, empty for a scalar.
[<Sealed; AllowNullLiteral>]
type Shape internal (dims: int[]) =
    let size =
        let mutable n = 1L

        for d in dims do
            n <- n * int64 d

        if n > int64 Int32.MaxValue then
            raise (ArgumentException(sprintf "shape [%s] has %d elements; at most %d are supported." (String.Join(", ", dims)) n Int32.MaxValue))

        int n

    static let scalar = Shape([||])

    /// The shape of a 0-d tensor (a scalar): no dimensions, one element.
    static member Scalar = scalar

    /// A shape with the given dimensions (each at least 0).
    static member Of([<ParamArray>] dims: int[]) =
        if isNull dims then nullArg "dims"

        for i in 0 .. dims.Length - 1 do
            if dims[i] < 0 then
                raise (ArgumentException(sprintf "dimension %d of [%s] is negative; sizes must be 0 or more." i (String.Join(", ", dims)), "dims"))

        if dims.Length = 0 then scalar else Shape(Array.copy dims)

    member internal _.Dims = dims
    /// Number of dimensions (0 for a scalar).
    member _.Rank = dims.Length
    /// Number of elements: the product of the dimensions (1 for a scalar).
    member _.Size = size
    /// The size of dimension <paramref name="index"/>.
    member _.Item
        with get (index: int) = dims[index]
    /// Number of dimensions, as a collection count.
    member _.Count = dims.Length
    /// A copy of the dimensions as an array.
    member _.ToArray() = Array.copy dims

    /// Structural equality: same rank and the same sizes.
    member _.Equals(other: Shape) =
        not (isNull other) && (obj.ReferenceEquals(dims, other.Dims) || dims.AsSpan().SequenceEqual(other.Dims))

    override this.Equals(other: obj) =
        match other with
        | :? Shape as s -> this.Equals(s)
        | _ -> false

    override _.GetHashCode() =
        let mutable h = 17

        for d in dims do
            h <- h * 31 + d

        h

    /// The dimensions in brackets, e.g. <c>[2, 3]</c>.
    override _.ToString() = "[" + String.Join(", ", dims) + "]"

    interface IEquatable<Shape> with
        member this.Equals(other: Shape) = this.Equals(other)

    interface IReadOnlyList<int> with
        member _.Item
            with get (index: int) = dims[index]

        member _.Count = dims.Length
        member _.GetEnumerator() : IEnumerator<int> = (dims :> IEnumerable<int>).GetEnumerator()
        member _.GetEnumerator() : IEnumerator = dims.GetEnumerator()

/// Shapes passed to an op do not fit together (broadcasting, matrix products, gradients).
type ShapeMismatchException(operation: string, leftShape: Shape, rightShape: Shape, dimension: int, message: string) =
    inherit ArgumentException(message)
    /// The op that refused the shapes, e.g. <c>add</c>.
    member _.Operation = operation
    /// The first operand's shape.
    member _.LeftShape = leftShape
    /// The second operand's shape.
    member _.RightShape = rightShape
    /// The dimension (counted from the left of the broadcast result) where the sizes disagree, or -1.
    member _.Dimension = dimension

/// Shape arithmetic shared by kernels and graph construction.
[<RequireQualifiedAccess>]
module Shape =
    /// The NumPy broadcast of two shapes; throws <see cref="ShapeMismatchException"/> naming <paramref name="operation"/>.
    let broadcast (operation: string) (a: Shape) (b: Shape) : Shape =
        if a.Equals b then
            a
        else
            let rank = max a.Rank b.Rank
            let dims = Array.zeroCreate rank

            for i in 0 .. rank - 1 do
                let da = if i < rank - a.Rank then 1 else a[i - (rank - a.Rank)]
                let db = if i < rank - b.Rank then 1 else b[i - (rank - b.Rank)]

                if da = db || db = 1 then dims[i] <- da
                elif da = 1 then dims[i] <- db
                else
                    raise (
                        ShapeMismatchException(
                            operation,
                            a,
                            b,
                            i,
                            sprintf
                                "%s: shapes %O and %O are not broadcast-compatible: dimension %d of the result has sizes %d and %d (sizes must be equal or one of them 1)."
                                operation a b i da db
                        )
                    )

            if rank = 0 then Shape.Scalar else Shape(dims)

    /// True when <paramref name="source"/> broadcasts to exactly <paramref name="target"/>.
    let broadcastsTo (source: Shape) (target: Shape) =
        source.Rank <= target.Rank
        && Seq.forall
            (fun i ->
                let d = source[i]
                let t = target[i + target.Rank - source.Rank]
                d = t || d = 1)
            (seq { 0 .. source.Rank - 1 })

[<AutoOpen>]
module internal Checks =
    let inline notNull (name: string) (x: 'T) =
        if isNull (box x) then raise (ArgumentNullException(name))
        x

