namespace TinyTorch.Functional

open System
open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open System.Runtime.Intrinsics

// Fused elementwise kernels, composed at run time from generic structs: an expression such as
// relu(a·b + c) becomes the type Binary<Max, Binary<Add, Binary<Multiply, Leaf, Leaf>, Leaf>, Fill>,
// and FusedLoop over that type is one loop that the JIT compiles with every node inlined, so each
// element is loaded once, computed in registers and stored once. Each node computes exactly what the
// whole-array kernel of its op computes (the same IEEE vector operations), so fused results are bit
// for bit the unfused ones. Tensor.fs (Fusion) builds the types from deferred tensors.

/// What a fused kernel reads and writes, handed out in the order the nodes bind: a node takes its
/// parameters, then its operands (left to right); each output takes its array, then its expression.
[<Sealed; AllowNullLiteral>]
type internal FusedCursor<'T>(arrays: 'T[][], scalars: 'T[], outputs: struct ('T[] * int)[]) =
    let mutable nextArray = 0
    let mutable nextScalar = 0
    let mutable nextOutput = 0

    /// The next computed operand's elements.
    member _.NextArray() =
        nextArray <- nextArray + 1
        arrays[nextArray - 1]

    /// The next number (an op's parameter, or a filled value).
    member _.NextScalar() =
        nextScalar <- nextScalar + 1
        scalars[nextScalar - 1]

    /// The next output array, with the offset at which element 0 of the range goes.
    member _.NextOutput() =
        nextOutput <- nextOutput + 1
        outputs[nextOutput - 1]

/// A node of a fused expression: <c>Bind</c> builds it from the cursor (called on a default value),
/// <c>Load(i, shared)</c> computes elements i .. i + w − 1, given those of the kernel's shared
/// subexpression (see FusedLoop).
type internal IFusedNode<'T, 'Self when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    abstract Bind: FusedCursor<'T> -> 'Self
    abstract Load: int * Vector512<'T> -> Vector512<'T>

/// An elementwise function of one vector, with its parameters.
type internal IFusedMap<'T, 'Self when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    abstract Bind: FusedCursor<'T> -> 'Self
    abstract Apply: Vector512<'T> -> Vector512<'T>

/// An elementwise function of two vectors, with its parameters.
type internal IFusedZip<'T, 'Self when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    abstract Bind: FusedCursor<'T> -> 'Self
    abstract Apply: Vector512<'T> * Vector512<'T> -> Vector512<'T>

/// The outputs of a fused kernel: each stores its expression's elements i .. i + w − 1.
type internal IFusedOutputs<'T, 'Self when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    abstract Bind: FusedCursor<'T> -> 'Self
    abstract Store: int * Vector512<'T> -> unit

/// A computed operand.
[<Struct; NoEquality; NoComparison>]
type internal Leaf<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    val Array: 'T[]
    new(array) = { Array = array }

    interface IFusedNode<'T, Leaf<'T>> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Bind cursor = Leaf<'T>(cursor.NextArray())

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Load(i, _) = Vector512.LoadUnsafe(&MemoryMarshal.GetArrayDataReference this.Array, unativeint i)

/// Every element the same number.
[<Struct; NoEquality; NoComparison>]
type internal Fill<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    val Value: Vector512<'T>
    new(value) = { Value = value }

    interface IFusedNode<'T, Fill<'T>> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Bind cursor = Fill<'T>(Vector512.Create(cursor.NextScalar()))

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Load(_, _) = this.Value

/// The kernel's shared subexpression (computed once per step by FusedLoop, used by several outputs).
[<Struct; NoEquality; NoComparison>]
type internal Shared<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedNode<'T, Shared<'T>> with
        member _.Bind _ = Shared<'T>()

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Load(_, shared) = shared

[<Struct; NoEquality; NoComparison>]
type internal Unary<'T, 'Op, 'X
    when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType
    and 'Op: struct and 'Op :> IFusedMap<'T, 'Op> and 'X: struct and 'X :> IFusedNode<'T, 'X>> =
    val Op: 'Op
    val X: 'X
    new(op, x) = { Op = op; X = x }

    interface IFusedNode<'T, Unary<'T, 'Op, 'X>> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Bind cursor =
            let op = Unchecked.defaultof<'Op>.Bind cursor
            Unary<'T, 'Op, 'X>(op, Unchecked.defaultof<'X>.Bind cursor)

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Load(i, shared) = this.Op.Apply(this.X.Load(i, shared))

[<Struct; NoEquality; NoComparison>]
type internal Binary<'T, 'Op, 'A, 'B
    when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType
    and 'Op: struct and 'Op :> IFusedZip<'T, 'Op> and 'A: struct and 'A :> IFusedNode<'T, 'A> and 'B: struct and 'B :> IFusedNode<'T, 'B>> =
    val Op: 'Op
    val A: 'A
    val B: 'B
    new(op, a, b) = { Op = op; A = a; B = b }

    interface IFusedNode<'T, Binary<'T, 'Op, 'A, 'B>> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Bind cursor =
            let op = Unchecked.defaultof<'Op>.Bind cursor
            let a = Unchecked.defaultof<'A>.Bind cursor
            Binary<'T, 'Op, 'A, 'B>(op, a, Unchecked.defaultof<'B>.Bind cursor)

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Load(i, shared) = this.Op.Apply(this.A.Load(i, shared), this.B.Load(i, shared))

// The ops. Each is the vector operation its whole-array kernel uses (TensorPrimitives' Negate, Abs,
// Sqrt, Add, …, Max, Min are these same operations, NaN payloads and signed zeros included).

[<Struct; NoEquality; NoComparison>]
type internal NegateOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedMap<'T, NegateOp<'T>> with
        member _.Bind _ = NegateOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply x = Vector512.Negate x

[<Struct; NoEquality; NoComparison>]
type internal AbsOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedMap<'T, AbsOp<'T>> with
        member _.Bind _ = AbsOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply x = Vector512.Abs x

[<Struct; NoEquality; NoComparison>]
type internal SqrtOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedMap<'T, SqrtOp<'T>> with
        member _.Bind _ = SqrtOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply x = Vector512.Sqrt x

/// 1 above the threshold, the given value at it, else 0 (NaN gives 0).
[<Struct; NoEquality; NoComparison>]
type internal StepOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    val Threshold: Vector512<'T>
    val At: Vector512<'T>
    new(threshold, at) = { Threshold = threshold; At = at }

    interface IFusedMap<'T, StepOp<'T>> with
        member _.Bind cursor =
            let t = Vector512.Create(cursor.NextScalar())
            StepOp<'T>(t, Vector512.Create(cursor.NextScalar()))

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Apply x =
            Vector512.ConditionalSelect(Vector512.GreaterThan(x, this.Threshold), Vector512<'T>.One, Vector512.ConditionalSelect(Vector512.Equals(x, this.Threshold), this.At, Vector512<'T>.Zero))

/// 1 below the threshold, the given value at it, else 0 (NaN gives 0).
[<Struct; NoEquality; NoComparison>]
type internal StepBelowOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    val Threshold: Vector512<'T>
    val At: Vector512<'T>
    new(threshold, at) = { Threshold = threshold; At = at }

    interface IFusedMap<'T, StepBelowOp<'T>> with
        member _.Bind cursor =
            let t = Vector512.Create(cursor.NextScalar())
            StepBelowOp<'T>(t, Vector512.Create(cursor.NextScalar()))

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Apply x =
            Vector512.ConditionalSelect(Vector512.LessThan(x, this.Threshold), Vector512<'T>.One, Vector512.ConditionalSelect(Vector512.Equals(x, this.Threshold), this.At, Vector512<'T>.Zero))

/// −1, 0 or 1 (NaN gives 0).
[<Struct; NoEquality; NoComparison>]
type internal SignOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedMap<'T, SignOp<'T>> with
        member _.Bind _ = SignOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply x =
            let z = Vector512<'T>.Zero
            Vector512.ConditionalSelect(Vector512.GreaterThan(x, z), Vector512<'T>.One, Vector512.ConditionalSelect(Vector512.LessThan(x, z), Vector512.Negate Vector512<'T>.One, z))

/// a + b
[<Struct; NoEquality; NoComparison>]
type internal AddOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedZip<'T, AddOp<'T>> with
        member _.Bind _ = AddOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply(a, b) = Vector512.Add(a, b)

/// a − b
[<Struct; NoEquality; NoComparison>]
type internal SubtractOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedZip<'T, SubtractOp<'T>> with
        member _.Bind _ = SubtractOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply(a, b) = Vector512.Subtract(a, b)

/// a·b
[<Struct; NoEquality; NoComparison>]
type internal MultiplyOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedZip<'T, MultiplyOp<'T>> with
        member _.Bind _ = MultiplyOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply(a, b) = Vector512.Multiply(a, b)

/// a / b
[<Struct; NoEquality; NoComparison>]
type internal DivideOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedZip<'T, DivideOp<'T>> with
        member _.Bind _ = DivideOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply(a, b) = Vector512.Divide(a, b)

/// IEEE maximum (NaN wins; +0 above −0), as TensorPrimitives.Max
[<Struct; NoEquality; NoComparison>]
type internal MaximumOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedZip<'T, MaximumOp<'T>> with
        member _.Bind _ = MaximumOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply(a, b) = Vector512.Max(a, b)

/// IEEE minimum, as TensorPrimitives.Min
[<Struct; NoEquality; NoComparison>]
type internal MinimumOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedZip<'T, MinimumOp<'T>> with
        member _.Bind _ = MinimumOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply(a, b) = Vector512.Min(a, b)

/// a·b, but 0 wherever a is 0
[<Struct; NoEquality; NoComparison>]
type internal SafeMultiplyOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedZip<'T, SafeMultiplyOp<'T>> with
        member _.Bind _ = SafeMultiplyOp<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Apply(a, b) = Vector512.ConditionalSelect(Vector512.Equals(a, Vector512<'T>.Zero), Vector512<'T>.Zero, Vector512.Multiply(a, b))

/// g·step(x), 0 wherever g is 0 (the cotangent of relu and clamp).
[<Struct; NoEquality; NoComparison>]
type internal StepMultiplyOp<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    val Threshold: Vector512<'T>
    val At: Vector512<'T>
    new(threshold, at) = { Threshold = threshold; At = at }

    interface IFusedZip<'T, StepMultiplyOp<'T>> with
        member _.Bind cursor =
            let t = Vector512.Create(cursor.NextScalar())
            StepMultiplyOp<'T>(t, Vector512.Create(cursor.NextScalar()))

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Apply(g, x) =
            let slope = Vector512.ConditionalSelect(Vector512.GreaterThan(x, this.Threshold), Vector512<'T>.One, Vector512.ConditionalSelect(Vector512.Equals(x, this.Threshold), this.At, Vector512<'T>.Zero))
            Vector512.ConditionalSelect(Vector512.Equals(g, Vector512<'T>.Zero), Vector512<'T>.Zero, Vector512.Multiply(g, slope))

/// No more outputs.
[<Struct; NoEquality; NoComparison>]
type internal NoOutputs<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> =
    interface IFusedOutputs<'T, NoOutputs<'T>> with
        member _.Bind _ = NoOutputs<'T>()
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Store(_, _) = ()

/// An output: its expression's elements go to Array from Offset, then the other outputs store theirs.
[<Struct; NoEquality; NoComparison>]
type internal Output<'T, 'E, 'Rest
    when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType
    and 'E: struct and 'E :> IFusedNode<'T, 'E> and 'Rest: struct and 'Rest :> IFusedOutputs<'T, 'Rest>> =
    val Array: 'T[]
    val Offset: int
    val E: 'E
    val Rest: 'Rest
    new(array, offset, e, rest) = { Array = array; Offset = offset; E = e; Rest = rest }

    interface IFusedOutputs<'T, Output<'T, 'E, 'Rest>> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Bind cursor =
            let struct (array, offset) = cursor.NextOutput()
            let e = Unchecked.defaultof<'E>.Bind cursor
            Output<'T, 'E, 'Rest>(array, offset, e, Unchecked.defaultof<'Rest>.Bind cursor)

        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member this.Store(i, shared) =
            Vector512.StoreUnsafe(this.E.Load(i, shared), &MemoryMarshal.GetArrayDataReference this.Array, unativeint (this.Offset + i))
            this.Rest.Store(i, shared)

/// The loop of one fused kernel type: the shared subexpression 'S (computed once per step, read by the
/// outputs' Shared nodes), then the outputs, over elements start .. start + count − 1, w at a time, the
/// last vector overlapping the one before (its elements get the same values again). The range must lie
/// at least w elements into the arrays (callers fuse only large tensors).
[<AbstractClass; Sealed>]
type internal FusedLoop<'T, 'S, 'O
    when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType
    and 'S: struct and 'S :> IFusedNode<'T, 'S> and 'O: struct and 'O :> IFusedOutputs<'T, 'O>> =
    static member Run(cursor: FusedCursor<'T>, start: int, count: int) : unit =
        let shared = Unchecked.defaultof<'S>.Bind cursor
        let outputs = Unchecked.defaultof<'O>.Bind cursor
        let w = Vector512<'T>.Count
        let stop = start + count
        let mutable i = start

        while i <= stop - w do
            outputs.Store(i, shared.Load(i, Vector512<'T>.Zero))
            i <- i + w

        if i < stop then outputs.Store(stop - w, shared.Load(stop - w, Vector512<'T>.Zero))

/// The generic definitions of the kernel types, for building an expression's type with MakeGenericType
/// (typedefof needs some instantiation; float32 stands for any).
[<RequireQualifiedAccess>]
module internal FusedTypes =
    let leaf = typedefof<Leaf<float32>>
    let fill = typedefof<Fill<float32>>
    let shared = typedefof<Shared<float32>>
    let unary = typedefof<Unary<float32, NegateOp<float32>, Leaf<float32>>>
    let binary = typedefof<Binary<float32, AddOp<float32>, Leaf<float32>, Leaf<float32>>>
    let noOutputs = typedefof<NoOutputs<float32>>
    let output = typedefof<Output<float32, Leaf<float32>, NoOutputs<float32>>>
    let loop = typedefof<FusedLoop<float32, Shared<float32>, NoOutputs<float32>>>
