namespace TinyTorch.Functional

// firstAligned reads an array element's address (to align vector stores; never dereferenced).
#nowarn "9"

open System
open System.Numerics
open System.Numerics.Tensors
open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open System.Runtime.Intrinsics
open Microsoft.FSharp.NativeInterop

/// An elementwise function of one tensor (with its scalar parameters).
[<RequireQualifiedAccess>]
type internal MapKernel =
    | Negate
    | Exp
    | Log
    | Tanh
    | Sigmoid
    | Relu
    | Power of exponent: float
    | ClampMin of lower: float
    /// 1 above the threshold, 0 below, the given value at it (NaN gives 0).
    | Step of threshold: float * atThreshold: float
    /// 1 below the threshold, 0 above, the given value at it (NaN gives 0).
    | StepBelow of threshold: float * atThreshold: float
    | Abs
    | Sqrt
    | Sin
    | Cos
    | Log1p
    | Expm1
    | Softplus
    | Erf
    /// −1, 0 or 1 (NaN gives 0).
    | Sign
    | ClampMax of upper: float

/// An elementwise function of two tensors of the same shape.
[<RequireQualifiedAccess>]
type internal ZipKernel =
    | Add
    | Subtract
    | Multiply
    | Divide
    | Maximum
    | Minimum
    /// a·b, but 0 wherever a is 0.
    | SafeMultiply

/// Scalar special functions the BCL lacks (its LogP1 and ExpM1 are plain log(1 + x) and e^x − 1,
/// which lose all precision near 0).
module internal SpecialFunctions =
    /// ln(1 + x) to full precision near 0 (Kahan: the rounding of 1 + x is divided out).
    let log1p (x: float) : float =
        let u = 1.0 + x
        if u = 1.0 then x
        elif Double.IsInfinity u then log u
        else log u * x / (u - 1.0)

    /// e^x − 1 to full precision near 0 (Kahan: the rounding of e^x is divided out).
    let expm1 (x: float) : float =
        let u = exp x
        if u = 1.0 then x
        elif u - 1.0 = -1.0 then -1.0
        elif Double.IsInfinity u then u
        else (u - 1.0) * x / log u

    /// The error function to about 1e-15: the Maclaurin series for |x| < 2.5 and a Lentz continued
    /// fraction for erfc beyond (where the series would cancel badly).
    let erf (x: float) : float =
        let ax = abs x

        if Double.IsNaN x then x
        elif ax < 2.5 then
            // erf x = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
            let x2 = x * x
            let mutable term = x
            let mutable sum = x
            let mutable n = 0

            while abs term > 1e-17 * abs sum && n < 200 do
                n <- n + 1
                term <- -term * x2 / float n
                sum <- sum + term / float (2 * n + 1)

            sum * 2.0 / sqrt Math.PI
        elif ax > 6.0 then
            float (sign x)
        else
            // erfc x = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
            let tiny = 1e-300
            let mutable f = ax
            let mutable c = ax
            let mutable d = 0.0
            let mutable i = 1

            while i < 300 do
                let a = float i / 2.0
                d <- ax + a * d
                d <- if abs d < tiny then 1.0 / tiny else 1.0 / d
                c <- ax + a / c
                if abs c < tiny then c <- tiny
                f <- f * c * d
                i <- i + 1

            let erfc = exp (-ax * ax) / sqrt Math.PI / f
            float (sign x) * (1.0 - erfc)

/// Vectorized loops over raw row-major arrays. Every function returns a fresh array and never
/// writes to its inputs; shapes are already checked by the callers.
[<RequireQualifiedAccess>]
module internal Kernels =

    /// The scalar definition of each map, used for one-element arrays and as the reference.
    let mapScalar (kernel: MapKernel) (x: float) : float =
        match kernel with
        | MapKernel.Negate -> -x
        | MapKernel.Exp -> exp x
        | MapKernel.Log -> log x
        | MapKernel.Tanh -> tanh x
        // Both branches only ever exponentiate a non-positive number: no overflow for any x.
        | MapKernel.Sigmoid ->
            if x >= 0.0 then
                1.0 / (1.0 + exp -x)
            else
                let e = exp x
                e / (1.0 + e)
        | MapKernel.Relu -> if x > 0.0 || Double.IsNaN x then x else 0.0
        | MapKernel.Power p -> Math.Pow(x, p)
        | MapKernel.ClampMin lower -> if x < lower then lower else x
        | MapKernel.Step(threshold, at) -> if x > threshold then 1.0 elif x = threshold then at else 0.0
        | MapKernel.StepBelow(threshold, at) -> if x < threshold then 1.0 elif x = threshold then at else 0.0
        | MapKernel.Abs -> abs x
        | MapKernel.Sqrt -> sqrt x
        | MapKernel.Sin -> sin x
        | MapKernel.Cos -> cos x
        | MapKernel.Log1p -> SpecialFunctions.log1p x
        | MapKernel.Expm1 -> SpecialFunctions.expm1 x
        // log(1 + e^x) = max(x, 0) + log1p(e^−|x|): never overflows, exact for large |x|.
        | MapKernel.Softplus -> max x 0.0 + SpecialFunctions.log1p (exp -(abs x))
        | MapKernel.Erf -> SpecialFunctions.erf x
        | MapKernel.Sign -> if x > 0.0 then 1.0 elif x < 0.0 then -1.0 else 0.0
        | MapKernel.ClampMax upper -> if x > upper then upper else x

    let zipScalar (kernel: ZipKernel) (a: float) (b: float) : float =
        match kernel with
        | ZipKernel.Add -> a + b
        | ZipKernel.Subtract -> a - b
        | ZipKernel.Multiply -> a * b
        | ZipKernel.Divide -> a / b
        | ZipKernel.Maximum -> Math.Max(a, b)
        | ZipKernel.Minimum -> Math.Min(a, b)
        | ZipKernel.SafeMultiply -> if a = 0.0 then 0.0 else a * b

    /// Elements per chunk of the parallel elementwise loops and reductions: the boundaries depend
    /// on the length alone, never on the thread count, so results are the same on any number of threads.
    [<Literal>]
    let ChunkSize = 65536

    /// Runs <c>body start count</c> over consecutive ranges of <see cref="ChunkSize"/> elements covering
    /// 0 .. length − 1, on several threads when the work is large.
    let forRanges (length: int) (body: int -> int -> unit) : unit =
        if length <= ChunkSize then
            if length > 0 then body 0 length
        else
            Parallel.forChunks (length >= 4 * ChunkSize) (Parallel.chunkCount length ChunkSize) (fun c ->
                let start = c * ChunkSize
                body start (min ChunkSize (length - start)))

    // The elementwise kernels below come in two layers: the "At" functions compute one range (each
    // operand from its own offset; the whole-array kernels after them pass one offset for all, chunk by
    // chunk). An element's value never depends on the range it was computed in, only on its operands
    // (vector paths need a range of at least one vector; shorter ones take the scalar loop, as whole
    // arrays that short always did). Fused.fs composes the same vector operations into single loops.

    /// One vector's worth of a mask kernel: where <c>select</c> holds take <c>ifTrue</c>, else where x
    /// equals the threshold take <c>atValue</c>, else <c>otherwise</c>.
    let inline private pick (select: Vector512<'T>) (ifTrue: Vector512<'T>) (equal: Vector512<'T>) (atValue: Vector512<'T>) (otherwise: Vector512<'T>) =
        Vector512.ConditionalSelect(select, ifTrue, Vector512.ConditionalSelect(equal, atValue, otherwise))

    // The mask kernels run on 512-bit vectors (emulated with two 256-bit halves, or four 128-bit
    // quarters, where the hardware has no 512-bit ones), loaded and stored through references: bounds
    // are the callers' (count elements from each offset).
    let inline private load (a: 'T[]) (i: int) = Vector512.LoadUnsafe(&MemoryMarshal.GetArrayDataReference a, unativeint i)
    let inline private store (v: Vector512<'T>) (a: 'T[]) (i: int) = Vector512.StoreUnsafe(v, &MemoryMarshal.GetArrayDataReference a, unativeint i)

    /// Where the loops below continue after one unaligned first vector: the first index (1 .. w) whose
    /// destination address is a multiple of 64 bytes, so the remaining stores never straddle two cache
    /// lines (a split 512-bit store costs several times an aligned one). A GC moving the array in
    /// between only costs that speed, never correctness.
    let inline private firstAligned<'T when 'T: unmanaged> (dst: 'T[]) (dO: int) =
        let w = Vector512<'T>.Count
        let address = NativePtr.toNativeInt (NativePtr.ofVoidPtr<byte> (Unsafe.AsPointer(&Unsafe.Add(&MemoryMarshal.GetArrayDataReference dst, dO))))
        let misaligned = int (address &&& 63n) / sizeof<'T>
        if misaligned = 0 then w else w - misaligned

    /// Runs <paramref name="body"/> at vector offsets covering 0 .. count − 1 (count at least w): once
    /// at 0, then from <paramref name="next"/> (see firstAligned) four vectors per step, and a last,
    /// overlapping vector for the remainder (recomputing a few elements: dst never aliases a source).
    let inline private sweep (w: int) (count: int) (next: int) ([<InlineIfLambda>] body: int -> unit) =
        body 0
        let mutable i = next

        while i <= count - 4 * w do
            body i
            body (i + w)
            body (i + 2 * w)
            body (i + 3 * w)
            i <- i + 4 * w

        while i <= count - w do
            body i
            i <- i + w

        if i < count then body (count - w)

    /// Step (or, with <paramref name="below"/>, StepBelow) of src[so ..] into dst[dO ..], count elements
    /// (at least one vector): 1 beyond the threshold, <paramref name="at"/> at it, else 0 (NaN gives 0).
    let private stepRange<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType>
        (below: bool) (threshold: 'T) (at: 'T) (one: 'T) (src: 'T[]) (so: int) (dst: 'T[]) (dO: int) (count: int) =
        let w = Vector512<'T>.Count
        let t, a, o = Vector512.Create threshold, Vector512.Create at, Vector512.Create one
        sweep w count (firstAligned dst dO) (fun i ->
            let x = load src (so + i)
            let beyond = if below then Vector512.LessThan(x, t) else Vector512.GreaterThan(x, t)
            store (pick beyond o (Vector512.Equals(x, t)) a Vector512<'T>.Zero) dst (dO + i))

    /// Sign over a range (count at least one vector): −1, 0 or 1; NaN gives 0.
    let private signRange<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType>
        (one: 'T) (minusOne: 'T) (src: 'T[]) (so: int) (dst: 'T[]) (dO: int) (count: int) =
        let w = Vector512<'T>.Count
        let o, m, z = Vector512.Create one, Vector512.Create minusOne, Vector512<'T>.Zero
        sweep w count (firstAligned dst dO) (fun i ->
            let x = load src (so + i)
            store (pick (Vector512.GreaterThan(x, z)) o (Vector512.LessThan(x, z)) m z) dst (dO + i))

    /// a·b over a range, 0 wherever a is 0 (count at least one vector).
    let private safeMultiplyRange<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType>
        (a: 'T[]) (ao: int) (b: 'T[]) (bo: int) (dst: 'T[]) (dO: int) (count: int) =
        let w = Vector512<'T>.Count
        sweep w count (firstAligned dst dO) (fun i ->
            let x = load a (ao + i)
            store (Vector512.ConditionalSelect(Vector512.Equals(x, Vector512<'T>.Zero), Vector512<'T>.Zero, x * load b (bo + i))) dst (dO + i))

    /// g·step(x) over a range (count at least one vector), 0 wherever g is 0: the cotangent of relu and
    /// clamp in one pass, bit for bit <c>SafeMultiply(g, Step(threshold, at)(x))</c>.
    let private stepMultiplyRange<'T when 'T: unmanaged and 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType>
        (threshold: 'T) (at: 'T) (one: 'T) (g: 'T[]) (go: int) (x: 'T[]) (xo: int) (dst: 'T[]) (dO: int) (count: int) =
        let w = Vector512<'T>.Count
        let t, a, o = Vector512.Create threshold, Vector512.Create at, Vector512.Create one
        sweep w count (firstAligned dst dO) (fun i ->
            let xv = load x (xo + i)
            let gv = load g (go + i)
            let slope = pick (Vector512.GreaterThan(xv, t)) o (Vector512.Equals(xv, t)) a Vector512<'T>.Zero
            store (Vector512.ConditionalSelect(Vector512.Equals(gv, Vector512<'T>.Zero), Vector512<'T>.Zero, gv * slope)) dst (dO + i))

    /// g·step(x) (float64) for count elements of g from go and x from xo into dst from dO, 0 wherever g is 0.
    let stepMultiply64At (threshold: float) (at: float) (g: float[]) (go: int) (x: float[]) (xo: int) (dst: float[]) (dO: int) (count: int) =
        if count >= Vector512<float>.Count then stepMultiplyRange threshold at 1.0 g go x xo dst dO count
        else
            let step = MapKernel.Step(threshold, at)
            for i in 0 .. count - 1 do
                dst[dO + i] <- zipScalar ZipKernel.SafeMultiply g[go + i] (mapScalar step x[xo + i])

    /// The float32 twin of <see cref="stepMultiply64At"/> (the threshold rounded to float32 once, as Step does).
    let stepMultiply32At (threshold: float) (at: float) (g: float32[]) (go: int) (x: float32[]) (xo: int) (dst: float32[]) (dO: int) (count: int) =
        let t, a = float32 threshold, float32 at

        if count >= Vector512<float32>.Count then stepMultiplyRange t a 1.0f g go x xo dst dO count
        else
            for i in 0 .. count - 1 do
                let xi = x[xo + i]
                let slope = if xi > t then 1.0f elif xi = t then a else 0.0f
                dst[dO + i] <- if g[go + i] = 0.0f then 0.0f else g[go + i] * slope

    /// g·step(x) elementwise (float64), 0 wherever g is 0.
    let stepMultiply64 (threshold: float) (at: float) (g: float[]) (x: float[]) : float[] =
        let dst = Pool.rent<float> g.Length false
        forRanges g.Length (fun start count -> stepMultiply64At threshold at g start x start dst start count)
        dst

    /// The float32 twin of <see cref="stepMultiply64"/>.
    let stepMultiply32 (threshold: float) (at: float) (g: float32[]) (x: float32[]) : float32[] =
        let dst = Pool.rent<float32> g.Length false
        forRanges g.Length (fun start count -> stepMultiply32At threshold at g start x start dst start count)
        dst

    /// A map of count elements of src from so into dst from dO (float64).
    let map64At (kernel: MapKernel) (src: float[]) (so: int) (dst: float[]) (dO: int) (count: int) =
        let s = ReadOnlySpan<float>(src, so, count)
        let d = Span<float>(dst, dO, count)

        match kernel with
        | MapKernel.Negate -> TensorPrimitives.Negate(s, d)
        | MapKernel.Exp -> TensorPrimitives.Exp(s, d)
        | MapKernel.Log -> TensorPrimitives.Log(s, d)
        | MapKernel.Tanh -> TensorPrimitives.Tanh(s, d)
        | MapKernel.Sigmoid -> TensorPrimitives.Sigmoid(s, d)
        | MapKernel.Relu -> TensorPrimitives.Max(s, 0.0, d)
        | MapKernel.Power p -> TensorPrimitives.Pow(s, p, d)
        | MapKernel.ClampMin lower -> TensorPrimitives.Max(s, lower, d)
        | MapKernel.Abs -> TensorPrimitives.Abs(s, d)
        | MapKernel.Sqrt -> TensorPrimitives.Sqrt(s, d)
        | MapKernel.Sin -> TensorPrimitives.Sin(s, d)
        | MapKernel.Cos -> TensorPrimitives.Cos(s, d)
        | MapKernel.ClampMax upper -> TensorPrimitives.Min(s, upper, d)
        | MapKernel.Step(threshold, at) when count >= Vector512<float>.Count -> stepRange false threshold at 1.0 src so dst dO count
        | MapKernel.StepBelow(threshold, at) when count >= Vector512<float>.Count -> stepRange true threshold at 1.0 src so dst dO count
        | MapKernel.Sign when count >= Vector512<float>.Count -> signRange 1.0 -1.0 src so dst dO count
        | MapKernel.Step _
        | MapKernel.StepBelow _
        | MapKernel.Sign
        | MapKernel.Softplus
        | MapKernel.Log1p
        | MapKernel.Expm1
        | MapKernel.Erf ->
            for i in 0 .. count - 1 do
                dst[dO + i] <- mapScalar kernel src[so + i]

    /// The float32 twin of <see cref="map64At"/>.
    let map32At (kernel: MapKernel) (src: float32[]) (so: int) (dst: float32[]) (dO: int) (count: int) =
        let s = ReadOnlySpan<float32>(src, so, count)
        let d = Span<float32>(dst, dO, count)

        match kernel with
        | MapKernel.Negate -> TensorPrimitives.Negate(s, d)
        | MapKernel.Exp -> TensorPrimitives.Exp(s, d)
        | MapKernel.Log -> TensorPrimitives.Log(s, d)
        | MapKernel.Tanh -> TensorPrimitives.Tanh(s, d)
        | MapKernel.Sigmoid -> TensorPrimitives.Sigmoid(s, d)
        | MapKernel.Relu -> TensorPrimitives.Max(s, 0.0f, d)
        | MapKernel.Power p -> TensorPrimitives.Pow(s, float32 p, d)
        | MapKernel.ClampMin lower -> TensorPrimitives.Max(s, float32 lower, d)
        | MapKernel.Abs -> TensorPrimitives.Abs(s, d)
        | MapKernel.Sqrt -> TensorPrimitives.Sqrt(s, d)
        | MapKernel.Sin -> TensorPrimitives.Sin(s, d)
        | MapKernel.Cos -> TensorPrimitives.Cos(s, d)
        | MapKernel.ClampMax upper -> TensorPrimitives.Min(s, float32 upper, d)
        | MapKernel.Step(threshold, at) when count >= Vector512<float32>.Count -> stepRange false (float32 threshold) (float32 at) 1.0f src so dst dO count
        | MapKernel.StepBelow(threshold, at) when count >= Vector512<float32>.Count -> stepRange true (float32 threshold) (float32 at) 1.0f src so dst dO count
        | MapKernel.Sign when count >= Vector512<float32>.Count -> signRange 1.0f -1.0f src so dst dO count
        // Short ranges compare in float32 too, against the same rounded threshold as the vector path.
        | MapKernel.Step(threshold, at)
        | MapKernel.StepBelow(threshold, at) ->
            let t, a = float32 threshold, float32 at
            let below = match kernel with MapKernel.StepBelow _ -> true | _ -> false

            for i in 0 .. count - 1 do
                let x = src[so + i]
                dst[dO + i] <- if (if below then x < t else x > t) then 1.0f elif x = t then a else 0.0f
        | MapKernel.Sign
        | MapKernel.Softplus
        | MapKernel.Log1p
        | MapKernel.Expm1
        | MapKernel.Erf ->
            for i in 0 .. count - 1 do
                dst[dO + i] <- float32 (mapScalar kernel (float src[so + i]))

    /// Step and StepBelow compare in the element type; their float32 thresholds are rounded once.
    let map64 (kernel: MapKernel) (src: float[]) : float[] =
        let dst = Pool.rent<float> src.Length false

        if src.Length = 1 then dst[0] <- mapScalar kernel src[0]
        else forRanges src.Length (fun start count -> map64At kernel src start dst start count)

        dst

    let map32 (kernel: MapKernel) (src: float32[]) : float32[] =
        let dst = Pool.rent<float32> src.Length false

        if src.Length = 1 then dst[0] <- float32 (mapScalar kernel (float src[0]))
        else forRanges src.Length (fun start count -> map32At kernel src start dst start count)

        dst

    /// A zip of count elements of a from ao and b from bo into dst from dO (float64).
    let zip64At (kernel: ZipKernel) (a: float[]) (ao: int) (b: float[]) (bo: int) (dst: float[]) (dO: int) (count: int) =
        let x = ReadOnlySpan<float>(a, ao, count)
        let y = ReadOnlySpan<float>(b, bo, count)
        let d = Span<float>(dst, dO, count)

        match kernel with
        | ZipKernel.Add -> TensorPrimitives.Add(x, y, d)
        | ZipKernel.Subtract -> TensorPrimitives.Subtract(x, y, d)
        | ZipKernel.Multiply -> TensorPrimitives.Multiply(x, y, d)
        | ZipKernel.Divide -> TensorPrimitives.Divide(x, y, d)
        | ZipKernel.Maximum -> TensorPrimitives.Max(x, y, d)
        | ZipKernel.Minimum -> TensorPrimitives.Min(x, y, d)
        | ZipKernel.SafeMultiply when count >= Vector512<float>.Count -> safeMultiplyRange a ao b bo dst dO count
        | ZipKernel.SafeMultiply ->
            for i in 0 .. count - 1 do
                dst[dO + i] <- zipScalar kernel a[ao + i] b[bo + i]

    /// The float32 twin of <see cref="zip64At"/>.
    let zip32At (kernel: ZipKernel) (a: float32[]) (ao: int) (b: float32[]) (bo: int) (dst: float32[]) (dO: int) (count: int) =
        let x = ReadOnlySpan<float32>(a, ao, count)
        let y = ReadOnlySpan<float32>(b, bo, count)
        let d = Span<float32>(dst, dO, count)

        match kernel with
        | ZipKernel.Add -> TensorPrimitives.Add(x, y, d)
        | ZipKernel.Subtract -> TensorPrimitives.Subtract(x, y, d)
        | ZipKernel.Multiply -> TensorPrimitives.Multiply(x, y, d)
        | ZipKernel.Divide -> TensorPrimitives.Divide(x, y, d)
        | ZipKernel.Maximum -> TensorPrimitives.Max(x, y, d)
        | ZipKernel.Minimum -> TensorPrimitives.Min(x, y, d)
        | ZipKernel.SafeMultiply when count >= Vector512<float32>.Count -> safeMultiplyRange a ao b bo dst dO count
        | ZipKernel.SafeMultiply ->
            for i in 0 .. count - 1 do
                dst[dO + i] <- if a[ao + i] = 0.0f then 0.0f else a[ao + i] * b[bo + i]

    let zip64 (kernel: ZipKernel) (a: float[]) (b: float[]) : float[] =
        let dst = Pool.rent<float> a.Length false

        if a.Length = 1 then dst[0] <- zipScalar kernel a[0] b[0]
        else forRanges a.Length (fun start count -> zip64At kernel a start b start dst start count)

        dst

    let zip32 (kernel: ZipKernel) (a: float32[]) (b: float32[]) : float32[] =
        let dst = Pool.rent<float32> a.Length false

        if a.Length = 1 then dst[0] <- float32 (zipScalar kernel (float a[0]) (float b[0]))
        else forRanges a.Length (fun start count -> zip32At kernel a start b start dst start count)

        dst

    /// Whether <see cref="zipScalar64"/> and <see cref="zipScalar32"/> handle the kernel.
    let zipTakesScalar (kernel: ZipKernel) =
        match kernel with
        | ZipKernel.SafeMultiply -> false
        | _ -> true

    /// kernel(a[i], s) (or, with <paramref name="scalarFirst"/>, kernel(s, a[i])) for count elements of a
    /// from ao into dst from dO: the same values as zipping with s broadcast.
    let zipScalar64At (kernel: ZipKernel) (s: float) (scalarFirst: bool) (a: float[]) (ao: int) (dst: float[]) (dO: int) (count: int) =
        let x = ReadOnlySpan<float>(a, ao, count)
        let d = Span<float>(dst, dO, count)

        match kernel with
        | ZipKernel.Add -> TensorPrimitives.Add(x, s, d)
        | ZipKernel.Multiply -> TensorPrimitives.Multiply(x, s, d)
        | ZipKernel.Maximum -> TensorPrimitives.Max(x, s, d)
        | ZipKernel.Minimum -> TensorPrimitives.Min(x, s, d)
        | ZipKernel.Subtract -> if scalarFirst then TensorPrimitives.Subtract(s, x, d) else TensorPrimitives.Subtract(x, s, d)
        | ZipKernel.Divide -> if scalarFirst then TensorPrimitives.Divide(s, x, d) else TensorPrimitives.Divide(x, s, d)
        | ZipKernel.SafeMultiply -> invalidOp "zipScalar64: safe_multiply has no scalar form."

    /// The float32 twin of <see cref="zipScalar64At"/>.
    let zipScalar32At (kernel: ZipKernel) (s: float32) (scalarFirst: bool) (a: float32[]) (ao: int) (dst: float32[]) (dO: int) (count: int) =
        let x = ReadOnlySpan<float32>(a, ao, count)
        let d = Span<float32>(dst, dO, count)

        match kernel with
        | ZipKernel.Add -> TensorPrimitives.Add(x, s, d)
        | ZipKernel.Multiply -> TensorPrimitives.Multiply(x, s, d)
        | ZipKernel.Maximum -> TensorPrimitives.Max(x, s, d)
        | ZipKernel.Minimum -> TensorPrimitives.Min(x, s, d)
        | ZipKernel.Subtract -> if scalarFirst then TensorPrimitives.Subtract(s, x, d) else TensorPrimitives.Subtract(x, s, d)
        | ZipKernel.Divide -> if scalarFirst then TensorPrimitives.Divide(s, x, d) else TensorPrimitives.Divide(x, s, d)
        | ZipKernel.SafeMultiply -> invalidOp "zipScalar32: safe_multiply has no scalar form."

    /// kernel(a[i], s) for every element (or kernel(s, a[i])), without materializing the broadcast.
    let zipScalar64 (kernel: ZipKernel) (a: float[]) (s: float) (scalarFirst: bool) : float[] =
        let dst = Pool.rent<float> a.Length false
        forRanges a.Length (fun start count -> zipScalar64At kernel s scalarFirst a start dst start count)
        dst

    /// The float32 twin of <see cref="zipScalar64"/>.
    let zipScalar32 (kernel: ZipKernel) (a: float32[]) (s: float32) (scalarFirst: bool) : float32[] =
        let dst = Pool.rent<float32> a.Length false
        forRanges a.Length (fun start count -> zipScalar32At kernel s scalarFirst a start dst start count)
        dst

    /// Sum of all elements: one partial sum per chunk of <see cref="ChunkSize"/> elements (vectorized
    /// within it), the partials then added in chunk order, so any thread count gives the same bits.
    let sum64 (src: float[]) =
        if src.Length <= ChunkSize then TensorPrimitives.Sum(ReadOnlySpan<float>(src))
        else
            let partials = Array.zeroCreate<float> (Parallel.chunkCount src.Length ChunkSize)
            forRanges src.Length (fun start count -> partials[start / ChunkSize] <- TensorPrimitives.Sum(ReadOnlySpan<float>(src, start, count)))
            let mutable total = 0.0
            for p in partials do total <- total + p
            total

    /// The float32 twin of <see cref="sum64"/>.
    let sum32 (src: float32[]) =
        if src.Length <= ChunkSize then TensorPrimitives.Sum(ReadOnlySpan<float32>(src))
        else
            let partials = Array.zeroCreate<float32> (Parallel.chunkCount src.Length ChunkSize)
            forRanges src.Length (fun start count -> partials[start / ChunkSize] <- TensorPrimitives.Sum(ReadOnlySpan<float32>(src, start, count)))
            let mutable total = 0.0f
            for p in partials do total <- total + p
            total

    /// Row-major strides of <paramref name="small"/> seen inside the larger <paramref name="big"/>
    /// (right-aligned, NumPy style): 0 along every dimension that <c>small</c> broadcasts.
    let private broadcastStrides (small: int[]) (big: int[]) =
        let strides = Array.zeroCreate big.Length
        let mutable stride = 1

        for i in big.Length - 1 .. -1 .. 0 do
            let k = i - (big.Length - small.Length)

            if k >= 0 then
                if small[k] <> 1 then strides[i] <- stride
                stride <- stride * small[k]

        strides

    /// Calls <c>row rowOffset otherOffset</c> for each last-axis row of a row-major array of shape
    /// <paramref name="dims"/>; the other offset advances by <paramref name="strides"/> (per dimension),
    /// so the whole walk is one odometer, no division.
    let private forEachRowStrided (dims: int[]) (strides: int[]) (row: int -> int -> unit) =
        let n = dims.Length
        let size = Array.fold (*) 1 dims

        if size > 0 then
            let inner = if n = 0 then 1 else dims[n - 1]
            let index = Array.zeroCreate n
            let mutable otherOffset = 0

            for o in 0 .. size / inner - 1 do
                row (o * inner) otherOffset
                let mutable d = n - 2
                let mutable carry = true

                while carry && d >= 0 do
                    index[d] <- index[d] + 1
                    otherOffset <- otherOffset + strides[d]

                    if index[d] = dims[d] then
                        otherOffset <- otherOffset - strides[d] * dims[d]
                        index[d] <- 0
                        d <- d - 1
                    else
                        carry <- false

    /// Calls <c>row bigOffset smallOffset</c> for each last-axis row of <c>big</c>, the small offset
    /// following the broadcast strides.
    let private forEachRow (small: int[]) (big: int[]) (row: int -> int -> unit) =
        forEachRowStrided big (broadcastStrides small big) row

    /// Whether the last axis of <c>small</c> is broadcast inside <c>big</c> (so a row maps to one element).
    let private lastAxisBroadcast (small: int[]) (big: int[]) =
        big.Length > 0 && (small.Length = 0 || small[small.Length - 1] = 1) && big[big.Length - 1] <> 1

    /// Broadcasts <paramref name="src"/> (shape <paramref name="srcDims"/>) to <paramref name="dstDims"/>.
    let expand (src: 'T[]) (srcDims: int[]) (dstDims: int[]) : 'T[] =
        let dst = Pool.rent<'T> (Array.fold (*) 1 dstDims) false

        if src.Length = 1 then
            let value = src[0]
            forRanges dst.Length (fun start count -> Array.Fill(dst, value, start, count))
        else
            let inner = if dstDims.Length = 0 then 1 else dstDims[dstDims.Length - 1]
            let fill = lastAxisBroadcast srcDims dstDims

            forEachRow srcDims dstDims (fun dstOffset srcOffset ->
                if fill then Array.Fill(dst, src[srcOffset], dstOffset, inner)
                else Array.Copy(src, srcOffset, dst, dstOffset, inner))

        dst

    /// Sums <paramref name="src"/> (shape <paramref name="srcDims"/>) over the dimensions that
    /// <paramref name="dstDims"/> broadcasts, giving an array of shape <c>dstDims</c>.
    let sumTo64 (src: float[]) (srcDims: int[]) (dstDims: int[]) : float[] =
        let dst = Pool.rent<float> (Array.fold (*) 1 dstDims) true
        let inner = if srcDims.Length = 0 then 1 else srcDims[srcDims.Length - 1]
        let collapse = lastAxisBroadcast dstDims srcDims

        forEachRow dstDims srcDims (fun srcOffset dstOffset ->
            let row = ReadOnlySpan<float>(src, srcOffset, inner)

            if collapse then
                dst[dstOffset] <- dst[dstOffset] + TensorPrimitives.Sum(row)
            else
                let d = Span<float>(dst, dstOffset, inner)
                TensorPrimitives.Add(Span<float>.op_Implicit d, row, d))

        dst

    /// The float32 twin of <see cref="sumTo64"/>.
    let sumTo32 (src: float32[]) (srcDims: int[]) (dstDims: int[]) : float32[] =
        let dst = Pool.rent<float32> (Array.fold (*) 1 dstDims) true
        let inner = if srcDims.Length = 0 then 1 else srcDims[srcDims.Length - 1]
        let collapse = lastAxisBroadcast dstDims srcDims

        forEachRow dstDims srcDims (fun srcOffset dstOffset ->
            let row = ReadOnlySpan<float32>(src, srcOffset, inner)

            if collapse then
                dst[dstOffset] <- dst[dstOffset] + TensorPrimitives.Sum(row)
            else
                let d = Span<float32>(dst, dstOffset, inner)
                TensorPrimitives.Add(Span<float32>.op_Implicit d, row, d))

        dst

    // ---- Axis kernels. A tensor seen along one axis is [outer, size, inner] (row-major). ----

    /// (product of the dimensions before axis, size of axis, product after).
    let around (dims: int[]) (axis: int) =
        let mutable outer = 1
        let mutable inner = 1

        for i in 0 .. axis - 1 do
            outer <- outer * dims[i]

        for i in axis + 1 .. dims.Length - 1 do
            inner <- inner * dims[i]

        outer, dims[axis], inner

    /// Reorders dimensions: output dimension i is input dimension perm[i].
    let permute (src: 'T[]) (dims: int[]) (perm: int[]) : 'T[] =
        let n = dims.Length
        let dst = Pool.rent<'T> src.Length false

        if n = 0 then
            Array.blit src 0 dst 0 src.Length
        else
            let srcStrides = Array.zeroCreate n
            let mutable s = 1

            for i in n - 1 .. -1 .. 0 do
                srcStrides[i] <- s
                s <- s * dims[i]

            let outDims = perm |> Array.map (fun p -> dims[p])
            let stride = perm |> Array.map (fun p -> srcStrides[p])
            let inner, innerStride = outDims[n - 1], stride[n - 1]

            forEachRowStrided outDims stride (fun dstOffset srcOffset ->
                for j in 0 .. inner - 1 do
                    dst[dstOffset + j] <- src[srcOffset + j * innerStride])

        dst

    /// Elements start, start + step, … (length of them) along axis.
    let slice (src: 'T[]) (dims: int[]) (axis: int) (start: int) (length: int) (step: int) : 'T[] =
        let outer, size, inner = around dims axis
        let dst = Pool.rent<'T> (outer * length * inner) false

        for o in 0 .. outer - 1 do
            for j in 0 .. length - 1 do
                Array.Copy(src, (o * size + start + j * step) * inner, dst, (o * length + j) * inner, inner)

        dst

    /// The adjoint of <see cref="slice"/>: places src at positions start, start + step, … of a zero
    /// tensor whose axis has <paramref name="size"/> elements.
    let sliceScatter (src: 'T[]) (dims: int[]) (axis: int) (start: int) (step: int) (size: int) : 'T[] =
        let outer, length, inner = around dims axis
        let dst = Pool.rent<'T> (outer * size * inner) true

        for o in 0 .. outer - 1 do
            for j in 0 .. length - 1 do
                Array.Copy(src, (o * length + j) * inner, dst, (o * size + start + j * step) * inner, inner)

        dst

    /// Joins parts along axis (all other dimensions equal).
    let concat (parts: 'T[][]) (partDims: int[][]) (axis: int) : 'T[] =
        let sizes = partDims |> Array.map (fun d -> d[axis])
        let total = Array.sum sizes
        let outer, _, inner = around partDims[0] axis
        let dst = Pool.rent<'T> (outer * total * inner) false
        let mutable offset = 0

        for p in 0 .. parts.Length - 1 do
            for o in 0 .. outer - 1 do
                Array.Copy(parts[p], o * sizes[p] * inner, dst, (o * total + offset) * inner, sizes[p] * inner)

            offset <- offset + sizes[p]

        dst

    /// Picks the given positions along axis (indices already validated).
    let indexSelect (src: 'T[]) (dims: int[]) (axis: int) (indices: int[]) : 'T[] =
        let outer, size, inner = around dims axis
        let dst = Pool.rent<'T> (outer * indices.Length * inner) false

        for o in 0 .. outer - 1 do
            for j in 0 .. indices.Length - 1 do
                Array.Copy(src, (o * size + indices[j]) * inner, dst, (o * indices.Length + j) * inner, inner)

        dst

    /// The adjoint of <see cref="indexSelect"/>: adds each slice of src into position indices[j]
    /// along axis of a zero tensor whose axis has <paramref name="size"/> elements (repeats accumulate).
    let inline indexAdd (src: ^T[]) (dims: int[]) (axis: int) (indices: int[]) (size: int) : ^T[] =
        let outer, count, inner = around dims axis
        let dst = Pool.rent< ^T> (outer * size * inner) true

        for o in 0 .. outer - 1 do
            for j in 0 .. count - 1 do
                let s = (o * count + j) * inner
                let d = (o * size + indices[j]) * inner

                for i in 0 .. inner - 1 do
                    dst[d + i] <- dst[d + i] + src[s + i]

        dst

    /// out[o, j, i] = src[o, index[o, j, i], i] along axis (index has src's shape except along axis).
    let gather (src: 'T[]) (dims: int[]) (axis: int) (index: int[]) (indexDims: int[]) : 'T[] =
        let outer, size, inner = around dims axis
        let _, count, _ = around indexDims axis
        let dst = Pool.rent<'T> index.Length false

        for o in 0 .. outer - 1 do
            for j in 0 .. count - 1 do
                for i in 0 .. inner - 1 do
                    let p = (o * count + j) * inner + i
                    dst[p] <- src[(o * size + index[p]) * inner + i]

        dst

    /// The adjoint of <see cref="gather"/>: adds src[o, j, i] into out[o, index[o, j, i], i].
    let inline scatterAdd (src: ^T[]) (index: int[]) (indexDims: int[]) (axis: int) (dims: int[]) : ^T[] =
        let outer, size, inner = around dims axis
        let _, count, _ = around indexDims axis
        let dst = Pool.rent< ^T> (outer * size * inner) true

        for o in 0 .. outer - 1 do
            for j in 0 .. count - 1 do
                for i in 0 .. inner - 1 do
                    let p = (o * count + j) * inner + i
                    let d = (o * size + index[p]) * inner + i
                    dst[d] <- dst[d] + src[p]

        dst

    /// The position of the largest (or, with <paramref name="largest"/> false, smallest) element
    /// along axis; the first one on ties; a NaN counts as the extreme (so it propagates, as PyTorch).
    let inline argExtreme (largest: bool) (src: ^T[]) (dims: int[]) (axis: int) : int[] =
        let outer, size, inner = around dims axis
        let dst = Array.zeroCreate<int> (outer * inner)

        for o in 0 .. outer - 1 do
            for i in 0 .. inner - 1 do
                let mutable best = 0
                let mutable bestValue = src[o * size * inner + i]

                for j in 1 .. size - 1 do
                    let v = src[(o * size + j) * inner + i]

                    if bestValue = bestValue && (v <> v || (if largest then v > bestValue else v < bestValue)) then
                        best <- j
                        bestValue <- v

                dst[o * inner + i] <- best

        dst

    /// <see cref="argExtreme"/> along the last axis, one vectorized search per row (first index on
    /// ties; the first NaN wins, as in argExtreme).
    let argExtremeLastAxis64 (largest: bool) (src: float[]) (size: int) : int[] =
        Array.init (src.Length / size) (fun row ->
            let span = ReadOnlySpan<float>(src, row * size, size)
            if largest then TensorPrimitives.IndexOfMax span else TensorPrimitives.IndexOfMin span)

    /// The float32 twin of <see cref="argExtremeLastAxis64"/>.
    let argExtremeLastAxis32 (largest: bool) (src: float32[]) (size: int) : int[] =
        Array.init (src.Length / size) (fun row ->
            let span = ReadOnlySpan<float32>(src, row * size, size)
            if largest then TensorPrimitives.IndexOfMax span else TensorPrimitives.IndexOfMin span)
