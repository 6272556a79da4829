namespace TinyTorch.Functional

open System
open System.Numerics.Tensors

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

/// An elementwise function of two tensors of the same shape.
[<RequireQualifiedAccess>]
type internal ZipKernel =
    | Add
    | Subtract
    | Multiply
    | Divide

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

    let zipScalar (kernel: ZipKernel) (a: float) (b: float) : float =
        match kernel with
        | ZipKernel.Add -> a + b
        | ZipKernel.Subtract -> a - b
        | ZipKernel.Multiply -> a * b
        | ZipKernel.Divide -> a / b

    let map64 (kernel: MapKernel) (src: float[]) : float[] =
        let dst = Array.zeroCreate<float> src.Length

        if src.Length = 1 then
            dst[0] <- mapScalar kernel src[0]
        else
            let s = ReadOnlySpan<float>(src)
            let d = Span<float>(dst)

            match kernel with
            | MapKernel.Negate -> TensorPrimitives.Negate(s, d)
            | MapKernel.Exp -> TensorPrimitives.Exp(s, d)
            | MapKernel.Log -> TensorPrimitives.Log(s, d)
            | MapKernel.Tanh -> TensorPrimitives.Tanh(s, d)
            | MapKernel.Sigmoid -> TensorPrimitives.Sigmoid(s, d)
            | MapKernel.Relu -> TensorPrimitives.Max(s, 0.0, d)
            | MapKernel.Power p -> TensorPrimitives.Pow(s, p, d)
            | MapKernel.ClampMin lower -> TensorPrimitives.Max(s, lower, d)
            | MapKernel.Step _ ->
                for i in 0 .. src.Length - 1 do
                    dst[i] <- mapScalar kernel src[i]

        dst

    let map32 (kernel: MapKernel) (src: float32[]) : float32[] =
        let dst = Array.zeroCreate<float32> src.Length

        if src.Length = 1 then
            dst[0] <- float32 (mapScalar kernel (float src[0]))
        else
            let s = ReadOnlySpan<float32>(src)
            let d = Span<float32>(dst)

            match kernel with
            | MapKernel.Negate -> TensorPrimitives.Negate(s, d)
            | MapKernel.Exp -> TensorPrimitives.Exp(s, d)
            | MapKernel.Log -> TensorPrimitives.Log(s, d)
            | MapKernel.Tanh -> TensorPrimitives.Tanh(s, d)
            | MapKernel.Sigmoid -> TensorPrimitives.Sigmoid(s, d)
            | MapKernel.Relu -> TensorPrimitives.Max(s, 0.0f, d)
            | MapKernel.Power p -> TensorPrimitives.Pow(s, float32 p, d)
            | MapKernel.ClampMin lower -> TensorPrimitives.Max(s, float32 lower, d)
            | MapKernel.Step _ ->
                for i in 0 .. src.Length - 1 do
                    dst[i] <- float32 (mapScalar kernel (float src[i]))

        dst

    let zip64 (kernel: ZipKernel) (a: float[]) (b: float[]) : float[] =
        let dst = Array.zeroCreate<float> a.Length

        if a.Length = 1 then
            dst[0] <- zipScalar kernel a[0] b[0]
        else
            let x = ReadOnlySpan<float>(a)
            let y = ReadOnlySpan<float>(b)
            let d = Span<float>(dst)

            match kernel with
            | ZipKernel.Add -> TensorPrimitives.Add(x, y, d)
            | ZipKernel.Subtract -> TensorPrimitives.Subtract(x, y, d)
            | ZipKernel.Multiply -> TensorPrimitives.Multiply(x, y, d)
            | ZipKernel.Divide -> TensorPrimitives.Divide(x, y, d)

        dst

    let zip32 (kernel: ZipKernel) (a: float32[]) (b: float32[]) : float32[] =
        let dst = Array.zeroCreate<float32> a.Length

        if a.Length = 1 then
            dst[0] <- float32 (zipScalar kernel (float a[0]) (float b[0]))
        else
            let x = ReadOnlySpan<float32>(a)
            let y = ReadOnlySpan<float32>(b)
            let d = Span<float32>(dst)

            match kernel with
            | ZipKernel.Add -> TensorPrimitives.Add(x, y, d)
            | ZipKernel.Subtract -> TensorPrimitives.Subtract(x, y, d)
            | ZipKernel.Multiply -> TensorPrimitives.Multiply(x, y, d)
            | ZipKernel.Divide -> TensorPrimitives.Divide(x, y, d)

        dst

    let sum64 (src: float[]) = TensorPrimitives.Sum(ReadOnlySpan<float>(src))
    let sum32 (src: float32[]) = TensorPrimitives.Sum(ReadOnlySpan<float32>(src))

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

    /// Calls <c>row bigOffset smallOffset</c> for each last-axis row of <c>big</c>; the small
    /// offset follows the broadcast strides, so the whole walk is one odometer, no division.
    let private forEachRow (small: int[]) (big: int[]) (row: int -> int -> unit) =
        let n = big.Length
        let size = Array.fold (*) 1 big

        if size > 0 then
            let strides = broadcastStrides small big
            let inner = if n = 0 then 1 else big[n - 1]
            let index = Array.zeroCreate n
            let mutable smallOffset = 0

            for o in 0 .. size / inner - 1 do
                row (o * inner) smallOffset
                let mutable d = n - 2
                let mutable carry = true

                while carry && d >= 0 do
                    index[d] <- index[d] + 1
                    smallOffset <- smallOffset + strides[d]

                    if index[d] = big[d] then
                        smallOffset <- smallOffset - strides[d] * big[d]
                        index[d] <- 0
                        d <- d - 1
                    else
                        carry <- false

    /// Whether the last axis of <c>small</c> is broadcast inside <c>big</c> (so a row maps to one element).
    let private lastAxisBroadcast (small: int[]) (big: int[]) =
        big.Length > 0 && (small.Length = 0 || small[small.Length - 1] = 1) && big[big.Length - 1] <> 1

    /// Broadcasts <paramref name="src"/> (shape <paramref name="srcDims"/>) to <paramref name="dstDims"/>.
    let expand (src: 'T[]) (srcDims: int[]) (dstDims: int[]) : 'T[] =
        let dst = Array.zeroCreate<'T> (Array.fold (*) 1 dstDims)

        if src.Length = 1 then
            Array.Fill(dst, src[0])
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
        let dst = Array.zeroCreate<float> (Array.fold (*) 1 dstDims)
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
        let dst = Array.zeroCreate<float32> (Array.fold (*) 1 dstDims)
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
