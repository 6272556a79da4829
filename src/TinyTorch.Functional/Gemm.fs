namespace TinyTorch.Functional

// The kernel reads the pinned operands and writes its packed buffers through native pointers.
#nowarn "9"

open System
open System.Numerics
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop
open TinyTorch

/// The one GEMM kernel module: every matrix product in the library goes through here.
///
/// Blocking scheme (GotoBLAS / BLIS, row-major): the inner dimension is cut into equal slices of at
/// most KC steps. For each block of MC rows of op(A) and each KC slice, that MC × KC block is
/// packed into row strips MR high (KC columns of MR contiguous values); then for each panel of NC
/// columns of op(B) its KC slice is packed into column strips NR wide (NR = two vectors; KC rows
/// of NR contiguous values). The macro-kernel holds one A strip in L1 (8 × 512 float32: 16 KB) and
/// streams the B strips of the panel (KC × NC: 512 KB, in L2) through it. The micro-kernel keeps
/// an MR × NR tile of C in 2·MR vector registers and, per step, loads two vectors of B, broadcasts
/// MR values of A and issues 2·MR FMAs. The first KC slice overwrites C, later slices add to it
/// (a long KC means few passes over C: one for k ≤ 512). Packing absorbs the transposes and
/// zero-pads the strips, so edge tiles run the same kernel into a scratch tile that is copied out.
///
/// Threads: products of at least ParallelMinWork multiply-adds, when Threads.Count > 1, pack all
/// KC slices of A and of a B panel into shared buffers (in parallel) and then run the output blocks
/// (Mb rows × 4·NR columns) as independent chunks, each walking the KC slices in order. The split is over M and N only, never K: every output
/// element gets the same KC slices in the same order through the same micro-kernel on any number of
/// threads, so results are bitwise identical whatever Threads.Count is. Packing a non-transposed A
/// (or a transposed B) transposes 8 × 8 float32 blocks in AVX registers.
[<RequireQualifiedAccess>]
module internal Gemm =

    /// The tile shape of the machine's micro-kernel and the cache blocking that goes with it.
    [<NoEquality; NoComparison>]
    type private Kernel<'T when 'T: unmanaged> =
        { /// Rows of the register tile (the height of a packed A strip).
          Mr: int
          /// Columns of the register tile (the width of a packed B strip): two vectors.
          Nr: int
          /// The most steps of the inner dimension per packed slice (k is cut into equal slices).
          Kc: int
          /// Rows of op(A) per packed A block of the sequential schedule (a multiple of Mr).
          Mc: int
          /// Columns of op(B) per packed B panel of the sequential schedule (a multiple of Nr).
          Nc: int
          /// Rows of op(A) per output block of the parallel schedule (a multiple of Mr).
          Mb: int
          /// Columns of op(B) per output block of the parallel schedule (a multiple of Nr).
          Ng: int
          /// Columns of op(B) per packed panel of the parallel schedule (a multiple of Nr).
          Np: int }

    // ---------------------------------------------------------------------------------------------
    // The register tile.

    /// The micro-kernel body, written once for every vector type and inlined into each concrete
    /// kernel: up to 12 rows (mr is a constant at each instantiation, so the JIT drops the unused
    /// rows) by two vectors of w lanes. fma x y z is x·y + z.
    let inline private tile
        ([<InlineIfLambda>] load: nativeptr<'T> -> 'V)
        ([<InlineIfLambda>] store: 'V -> nativeptr<'T> -> unit)
        ([<InlineIfLambda>] splat: 'T -> 'V)
        ([<InlineIfLambda>] fma: 'V -> 'V -> 'V -> 'V)
        ([<InlineIfLambda>] add: 'V -> 'V -> 'V)
        ([<InlineIfLambda>] prefetch: nativeptr<'T> -> unit)
        (zero: 'V)
        (mr: int)
        (w: int)
        (kc: int)
        (pa: nativeptr<'T>)
        (pb: nativeptr<'T>)
        (c: nativeptr<'T>)
        (ldc: int)
        (accumulate: bool)
        =
        // Start fetching the C tile now: it is only touched after the kc steps, and it is the one
        // operand that is not packed (for large C it comes from L3 or memory).
        for r in 0 .. mr - 1 do
            let row = NativePtr.add c (r * ldc)
            prefetch row
            prefetch (NativePtr.add row (2 * w - 1))

        let mutable c00 = zero
        let mutable c01 = zero
        let mutable c10 = zero
        let mutable c11 = zero
        let mutable c20 = zero
        let mutable c21 = zero
        let mutable c30 = zero
        let mutable c31 = zero
        let mutable c40 = zero
        let mutable c41 = zero
        let mutable c50 = zero
        let mutable c51 = zero
        let mutable c60 = zero
        let mutable c61 = zero
        let mutable c70 = zero
        let mutable c71 = zero
        let mutable c80 = zero
        let mutable c81 = zero
        let mutable c90 = zero
        let mutable c91 = zero
        let mutable ca0 = zero
        let mutable ca1 = zero
        let mutable cb0 = zero
        let mutable cb1 = zero
        let mutable a = pa
        let mutable b = pb

        for _ in 1..kc do
            let b0 = load b
            let b1 = load (NativePtr.add b w)
            if mr > 0 then
                let ar = splat (NativePtr.get a 0)
                c00 <- fma ar b0 c00
                c01 <- fma ar b1 c01

            if mr > 1 then
                let ar = splat (NativePtr.get a 1)
                c10 <- fma ar b0 c10
                c11 <- fma ar b1 c11

            if mr > 2 then
                let ar = splat (NativePtr.get a 2)
                c20 <- fma ar b0 c20
                c21 <- fma ar b1 c21

            if mr > 3 then
                let ar = splat (NativePtr.get a 3)
                c30 <- fma ar b0 c30
                c31 <- fma ar b1 c31

            if mr > 4 then
                let ar = splat (NativePtr.get a 4)
                c40 <- fma ar b0 c40
                c41 <- fma ar b1 c41

            if mr > 5 then
                let ar = splat (NativePtr.get a 5)
                c50 <- fma ar b0 c50
                c51 <- fma ar b1 c51

            if mr > 6 then
                let ar = splat (NativePtr.get a 6)
                c60 <- fma ar b0 c60
                c61 <- fma ar b1 c61

            if mr > 7 then
                let ar = splat (NativePtr.get a 7)
                c70 <- fma ar b0 c70
                c71 <- fma ar b1 c71

            if mr > 8 then
                let ar = splat (NativePtr.get a 8)
                c80 <- fma ar b0 c80
                c81 <- fma ar b1 c81

            if mr > 9 then
                let ar = splat (NativePtr.get a 9)
                c90 <- fma ar b0 c90
                c91 <- fma ar b1 c91

            if mr > 10 then
                let ar = splat (NativePtr.get a 10)
                ca0 <- fma ar b0 ca0
                ca1 <- fma ar b1 ca1

            if mr > 11 then
                let ar = splat (NativePtr.get a 11)
                cb0 <- fma ar b0 cb0
                cb1 <- fma ar b1 cb1

            a <- NativePtr.add a mr
            b <- NativePtr.add b (2 * w)

        let inline storeRow (r: int) (v0: 'V) (v1: 'V) =
            let d0 = NativePtr.add c (r * ldc)
            let d1 = NativePtr.add d0 w

            if accumulate then
                store (add (load d0) v0) d0
                store (add (load d1) v1) d1
            else
                store v0 d0
                store v1 d1

        if mr > 0 then
            storeRow 0 c00 c01

        if mr > 1 then
            storeRow 1 c10 c11

        if mr > 2 then
            storeRow 2 c20 c21

        if mr > 3 then
            storeRow 3 c30 c31

        if mr > 4 then
            storeRow 4 c40 c41

        if mr > 5 then
            storeRow 5 c50 c51

        if mr > 6 then
            storeRow 6 c60 c61

        if mr > 7 then
            storeRow 7 c70 c71

        if mr > 8 then
            storeRow 8 c80 c81

        if mr > 9 then
            storeRow 9 c90 c91

        if mr > 10 then
            storeRow 10 ca0 ca1

        if mr > 11 then
            storeRow 11 cb0 cb1

    // The concrete kernels: the tile body instantiated per vector type and element type.
    [<Literal>]
    let private Mr512 = 8

    [<Literal>]
    let private Mr256 = 6

    let private tile512f32 kc (a: nativeptr<float32>) b c ldc accumulate =
        tile
            (fun p -> Vector512.Load p)
            (fun v p -> Vector512.Store(v, p))
            (fun x -> Vector512.Create(x: float32))
            (fun x y z -> Vector512.FusedMultiplyAdd(x, y, z))
            (fun x y -> x + y)
            (fun p -> Sse.Prefetch0(NativePtr.toVoidPtr p))
            Vector512<float32>.Zero
            Mr512
            Vector512<float32>.Count
            kc a b c ldc accumulate

    let private tile512f64 kc (a: nativeptr<float>) b c ldc accumulate =
        tile
            (fun p -> Vector512.Load p)
            (fun v p -> Vector512.Store(v, p))
            (fun x -> Vector512.Create(x: float))
            (fun x y z -> Vector512.FusedMultiplyAdd(x, y, z))
            (fun x y -> x + y)
            (fun p -> Sse.Prefetch0(NativePtr.toVoidPtr p))
            Vector512<float>.Zero
            Mr512
            Vector512<float>.Count
            kc a b c ldc accumulate

    let private tile256f32 kc (a: nativeptr<float32>) b c ldc accumulate =
        tile
            (fun p -> Vector256.Load p)
            (fun v p -> Vector256.Store(v, p))
            (fun x -> Vector256.Create(x: float32))
            (fun x y z -> Vector256.FusedMultiplyAdd(x, y, z))
            (fun x y -> x + y)
            (fun p -> Sse.Prefetch0(NativePtr.toVoidPtr p))
            Vector256<float32>.Zero
            Mr256
            Vector256<float32>.Count
            kc a b c ldc accumulate

    let private tile256f64 kc (a: nativeptr<float>) b c ldc accumulate =
        tile
            (fun p -> Vector256.Load p)
            (fun v p -> Vector256.Store(v, p))
            (fun x -> Vector256.Create(x: float))
            (fun x y z -> Vector256.FusedMultiplyAdd(x, y, z))
            (fun x y -> x + y)
            (fun p -> Sse.Prefetch0(NativePtr.toVoidPtr p))
            Vector256<float>.Zero
            Mr256
            Vector256<float>.Count
            kc a b c ldc accumulate

    // Portable fallback: Vector<T> (hardware or software), multiply then add.
    let private tileVecf32 kc (a: nativeptr<float32>) b c ldc accumulate =
        tile
            (fun p -> Vector.Load p)
            (fun v p -> Vector.Store(v, p))
            (fun (x: float32) -> Vector<float32>(x))
            (fun x y z -> x * y + z)
            (fun x y -> x + y)
            (fun _ -> ())
            Vector<float32>.Zero
            Mr256
            Vector<float32>.Count
            kc a b c ldc accumulate

    let private tileVecf64 kc (a: nativeptr<float>) b c ldc accumulate =
        tile
            (fun p -> Vector.Load p)
            (fun v p -> Vector.Store(v, p))
            (fun (x: float) -> Vector<float>(x))
            (fun x y z -> x * y + z)
            (fun x y -> x + y)
            (fun _ -> ())
            Vector<float>.Zero
            Mr256
            Vector<float>.Count
            kc a b c ldc accumulate

    /// One register tile: the first Mr × Nr values of C, row stride ldc, are set to (accumulate =
    /// false) or increased by (accumulate = true) the product of a packed A strip and a packed B
    /// strip over kc steps, by the widest micro-kernel the machine runs (the same choice as the
    /// kernel records below). The type test and the hardware tests are constants to the JIT, so
    /// each instantiation is one direct call (no delegate per tile).
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    let private runTile<'T when 'T: unmanaged>
        (kc: int)
        (a: nativeptr<'T>)
        (b: nativeptr<'T>)
        (c: nativeptr<'T>)
        (ldc: int)
        (accumulate: bool)
        =
        if obj.ReferenceEquals(typeof<'T>, typeof<float32>) then
            let a = NativePtr.ofNativeInt<float32> (NativePtr.toNativeInt a)
            let b = NativePtr.ofNativeInt<float32> (NativePtr.toNativeInt b)
            let c = NativePtr.ofNativeInt<float32> (NativePtr.toNativeInt c)

            if Vector512.IsHardwareAccelerated then
                tile512f32 kc a b c ldc accumulate
            elif Vector256.IsHardwareAccelerated && Fma.IsSupported then
                tile256f32 kc a b c ldc accumulate
            else
                tileVecf32 kc a b c ldc accumulate
        else
            let a = NativePtr.ofNativeInt<float> (NativePtr.toNativeInt a)
            let b = NativePtr.ofNativeInt<float> (NativePtr.toNativeInt b)
            let c = NativePtr.ofNativeInt<float> (NativePtr.toNativeInt c)

            if Vector512.IsHardwareAccelerated then
                tile512f64 kc a b c ldc accumulate
            elif Vector256.IsHardwareAccelerated && Fma.IsSupported then
                tile256f64 kc a b c ldc accumulate
            else
                tileVecf64 kc a b c ldc accumulate

    /// A kernel record, with the blocks rounded to whole strips.
    let private kernel<'T when 'T: unmanaged> (mr: int) (nr: int) (kc: int) (mc: int) (nc: int) : Kernel<'T> =
        // Output blocks of the parallel schedule: 96 rows by four B strips (128 float32 columns with
        // Vector512), small enough that two threads get an even share of the W4 MLP's products.
        let strips x width = max width (x / width * width)

        { Mr = mr
          Nr = nr
          Kc = kc
          Mc = strips mc mr
          Nc = strips nc nr
          Mb = strips 96 mr
          Ng = 4 * nr
          Np = strips 2048 nr }

    /// The steps per KC slice for an inner dimension k: k cut into the fewest slices of at most
    /// Kc steps, all of the same length but the last (so no slice is a short tail). It depends on
    /// k only, never on the thread count.
    let private sliceOf (kernel: Kernel<'T>) (k: int) =
        let slices = max 1 ((k + kernel.Kc - 1) / kernel.Kc)
        (k + slices - 1) / slices

    // The widest kernel the machine runs, chosen once at startup. The macro-kernel keeps one A strip
    // (Mr·KC values: 16 KB for float32 at KC = 512) in L1 and streams the B strips of a KC × NC
    // panel (512 KB) through it from L2; the MC × KC block of A (up to 2.4 MB) sits in L3. A long
    // KC means few passes over C (one for k ≤ 512), each a load and a store per element. Measured
    // on Zen 5 against the 8 × 32 tile with the B strip in L1 and KC = 256: as fast or a few per
    // cent faster; a 12 × 32 tile (24 accumulators) was slower (edge strips on m = 128, 256).
    let private kernel32: Kernel<float32> =
        if Vector512.IsHardwareAccelerated then
            kernel Mr512 (2 * Vector512<float32>.Count) 512 1200 256
        elif Vector256.IsHardwareAccelerated && Fma.IsSupported then
            kernel Mr256 (2 * Vector256<float32>.Count) 512 1200 256
        else
            kernel Mr256 (2 * Vector<float32>.Count) 512 1200 256

    let private kernel64: Kernel<float> =
        if Vector512.IsHardwareAccelerated then
            kernel Mr512 (2 * Vector512<float>.Count) 256 1200 256
        elif Vector256.IsHardwareAccelerated && Fma.IsSupported then
            kernel Mr256 (2 * Vector256<float>.Count) 256 1200 256
        else
            kernel Mr256 (2 * Vector<float>.Count) 256 1200 256

    // ---------------------------------------------------------------------------------------------
    // Packing.

    let inline private copy (src: nativeptr<'T>) (dst: nativeptr<'T>) (count: int) =
        let bytes = uint32 (count * sizeof<'T>)
        Unsafe.CopyBlockUnaligned(NativePtr.toVoidPtr dst, NativePtr.toVoidPtr src, bytes)

    let inline private clear (dst: nativeptr<'T>) (count: int) =
        Unsafe.InitBlockUnaligned(NativePtr.toVoidPtr dst, 0uy, uint32 (count * sizeof<'T>))

    /// Packs a panel stored along the strips: kc rows of total contiguous values (row p at
    /// src + p·ld) into strips w wide, strip s at dst + s·kc·w holding values s·w .. s·w+w−1 of
    /// every row (row p at p·w), the last strip zero-padded. It walks the source row by row over
    /// groups of eight strips: each source row is read in runs of 8·w values, and only eight
    /// destination streams are open at once (the strips are kc·w apart, often a multiple of 4 KB,
    /// so more streams would evict each other from one L1 set).
    let private packAcross<'T when 'T: unmanaged>
        (src: nativeptr<'T>)
        (ld: int)
        (total: int)
        (kc: int)
        (dst: nativeptr<'T>)
        (w: int)
        =
        let size = sizeof<'T>
        let full = total / w
        let rest = total - full * w
        let runBytes = w * size
        let stripBytes = nativeint (kc * w * size)
        let mutable g = 0

        while g < full do
            let count = min 8 (full - g)

            for p in 0 .. kc - 1 do
                let mutable sq = NativePtr.toNativeInt (NativePtr.add src (p * ld + g * w))
                let mutable dq = NativePtr.toNativeInt (NativePtr.add dst (g * kc * w + p * w))

                // The source comes from L3 or memory: ask for the same run eight rows ahead.
                if p + 8 < kc && Sse.IsSupported then
                    let ahead = sq + nativeint (8 * ld * size)
                    let mutable o = 0

                    while o < count * runBytes do
                        Sse.Prefetch0(NativePtr.toVoidPtr (NativePtr.ofNativeInt<byte> (ahead + nativeint o)))
                        o <- o + 64

                if runBytes % 32 = 0 then
                    // Whole 32-byte chunks (every Vector512 and Vector256 strip of B).
                    for _ in 1..count do
                        let mutable o = 0

                        while o < runBytes do
                            let chunk = Vector256.Load(NativePtr.ofNativeInt<byte> (sq + nativeint o))
                            Vector256.Store(chunk, NativePtr.ofNativeInt<byte> (dq + nativeint o))
                            o <- o + 32

                        sq <- sq + nativeint runBytes
                        dq <- dq + stripBytes
                elif runBytes % 16 = 0 then
                    // Whole 16-byte chunks (a 12-row float32 or float64 strip of A).
                    for _ in 1..count do
                        let mutable o = 0

                        while o < runBytes do
                            let chunk = Vector128.Load(NativePtr.ofNativeInt<byte> (sq + nativeint o))
                            Vector128.Store(chunk, NativePtr.ofNativeInt<byte> (dq + nativeint o))
                            o <- o + 16

                        sq <- sq + nativeint runBytes
                        dq <- dq + stripBytes
                else
                    for _ in 1..count do
                        let sv = NativePtr.ofNativeInt<'T> sq
                        let dv = NativePtr.ofNativeInt<'T> dq

                        for r in 0 .. w - 1 do
                            NativePtr.set dv r (NativePtr.get sv r)

                        sq <- sq + nativeint runBytes
                        dq <- dq + stripBytes

            g <- g + count

        if rest > 0 then
            for p in 0 .. kc - 1 do
                let s = NativePtr.add src (p * ld + full * w)
                let d = NativePtr.add dst (full * kc * w + p * w)

                for r in 0 .. rest - 1 do
                    NativePtr.set d r (NativePtr.get s r)

                for r in rest .. w - 1 do
                    NativePtr.set d r Unchecked.defaultof<'T>

    /// Eight rows of eight float32 values (row i at src + i·ld) written transposed: column j of the
    /// block goes to dst + j·ldd as eight contiguous values. Unpack pairs of rows, shuffle pairs of
    /// pairs, then swap 128-bit halves: 24 shuffles instead of 64 scalar moves.
    let private transpose8x8 (src: nativeptr<float32>) (ld: int) (dst: nativeptr<float32>) (ldd: int) =
        let row i = Avx.LoadVector256(NativePtr.add src (i * ld))
        let r0 = row 0
        let r1 = row 1
        let r2 = row 2
        let r3 = row 3
        let r4 = row 4
        let r5 = row 5
        let r6 = row 6
        let r7 = row 7
        let t0 = Avx.UnpackLow(r0, r1)
        let t1 = Avx.UnpackHigh(r0, r1)
        let t2 = Avx.UnpackLow(r2, r3)
        let t3 = Avx.UnpackHigh(r2, r3)
        let t4 = Avx.UnpackLow(r4, r5)
        let t5 = Avx.UnpackHigh(r4, r5)
        let t6 = Avx.UnpackLow(r6, r7)
        let t7 = Avx.UnpackHigh(r6, r7)
        let s0 = Avx.Shuffle(t0, t2, 0x44uy)
        let s1 = Avx.Shuffle(t0, t2, 0xEEuy)
        let s2 = Avx.Shuffle(t1, t3, 0x44uy)
        let s3 = Avx.Shuffle(t1, t3, 0xEEuy)
        let s4 = Avx.Shuffle(t4, t6, 0x44uy)
        let s5 = Avx.Shuffle(t4, t6, 0xEEuy)
        let s6 = Avx.Shuffle(t5, t7, 0x44uy)
        let s7 = Avx.Shuffle(t5, t7, 0xEEuy)
        Avx.Store(NativePtr.add dst (0 * ldd), Avx.Permute2x128(s0, s4, 0x20uy))
        Avx.Store(NativePtr.add dst (1 * ldd), Avx.Permute2x128(s1, s5, 0x20uy))
        Avx.Store(NativePtr.add dst (2 * ldd), Avx.Permute2x128(s2, s6, 0x20uy))
        Avx.Store(NativePtr.add dst (3 * ldd), Avx.Permute2x128(s3, s7, 0x20uy))
        Avx.Store(NativePtr.add dst (4 * ldd), Avx.Permute2x128(s0, s4, 0x31uy))
        Avx.Store(NativePtr.add dst (5 * ldd), Avx.Permute2x128(s1, s5, 0x31uy))
        Avx.Store(NativePtr.add dst (6 * ldd), Avx.Permute2x128(s2, s6, 0x31uy))
        Avx.Store(NativePtr.add dst (7 * ldd), Avx.Permute2x128(s3, s7, 0x31uy))

    /// Four rows of eight float32 values (row i at src + i·ld) written transposed: column j of the
    /// block goes to dst + j·ldd as four contiguous values (the last four rows of a 12-row strip).
    let private transpose4x8 (src: nativeptr<float32>) (ld: int) (dst: nativeptr<float32>) (ldd: int) =
        let row i = Avx.LoadVector256(NativePtr.add src (i * ld))
        let r0 = row 0
        let r1 = row 1
        let r2 = row 2
        let r3 = row 3
        let t0 = Avx.UnpackLow(r0, r1)
        let t1 = Avx.UnpackHigh(r0, r1)
        let t2 = Avx.UnpackLow(r2, r3)
        let t3 = Avx.UnpackHigh(r2, r3)
        // Columns (0, 4), (1, 5), (2, 6), (3, 7) in the low and high 128-bit halves.
        let s0 = Avx.Shuffle(t0, t2, 0x44uy)
        let s1 = Avx.Shuffle(t0, t2, 0xEEuy)
        let s2 = Avx.Shuffle(t1, t3, 0x44uy)
        let s3 = Avx.Shuffle(t1, t3, 0xEEuy)
        Sse.Store(NativePtr.add dst (0 * ldd), s0.GetLower())
        Sse.Store(NativePtr.add dst (1 * ldd), s1.GetLower())
        Sse.Store(NativePtr.add dst (2 * ldd), s2.GetLower())
        Sse.Store(NativePtr.add dst (3 * ldd), s3.GetLower())
        Sse.Store(NativePtr.add dst (4 * ldd), s0.GetUpper())
        Sse.Store(NativePtr.add dst (5 * ldd), s1.GetUpper())
        Sse.Store(NativePtr.add dst (6 * ldd), s2.GetUpper())
        Sse.Store(NativePtr.add dst (7 * ldd), s3.GetUpper())

    /// One packed strip from count runs of kc contiguous values (run r at src + r·ld), transposed:
    /// value p of run r goes to dst[p·w + r], zero-padded from count to w. This packs a panel
    /// stored across the strip; four runs at a time keep four read streams and short write bursts.
    let private packTransposed<'T when 'T: unmanaged>
        (src: nativeptr<'T>)
        (ld: int)
        (count: int)
        (kc: int)
        (dst: nativeptr<'T>)
        (w: int)
        =
        let mutable r = 0

        // float32 with AVX: eight runs at a time, transposed in registers 8 × 8 values per step.
        if typeof<'T> = typeof<float32> && Avx.IsSupported then
            let src32 = NativePtr.ofNativeInt<float32> (NativePtr.toNativeInt src)
            let dst32 = NativePtr.ofNativeInt<float32> (NativePtr.toNativeInt dst)

            while r + 8 <= count do
                let s = NativePtr.add src32 (r * ld)
                let mutable p = 0

                while p + 8 <= kc do
                    // Once per cache line of the eight runs, ask for the line 512 bytes ahead.
                    if p &&& 15 = 0 && p + 128 < kc then
                        for i in 0..7 do
                            Sse.Prefetch0(NativePtr.toVoidPtr (NativePtr.add s (i * ld + p + 128)))

                    transpose8x8 (NativePtr.add s p) ld (NativePtr.add dst32 (p * w + r)) w
                    p <- p + 8

                while p < kc do
                    let d = NativePtr.add dst32 (p * w + r)

                    for i in 0..7 do
                        NativePtr.set d i (NativePtr.get s (i * ld + p))

                    p <- p + 1

                r <- r + 8

            if r + 4 <= count then
                let s = NativePtr.add src32 (r * ld)
                let mutable p = 0

                while p + 8 <= kc do
                    transpose4x8 (NativePtr.add s p) ld (NativePtr.add dst32 (p * w + r)) w
                    p <- p + 8

                while p < kc do
                    let d = NativePtr.add dst32 (p * w + r)

                    for i in 0..3 do
                        NativePtr.set d i (NativePtr.get s (i * ld + p))

                    p <- p + 1

                r <- r + 4

        while r + 4 <= count do
            let s0 = NativePtr.add src (r * ld)
            let s1 = NativePtr.add s0 ld
            let s2 = NativePtr.add s1 ld
            let s3 = NativePtr.add s2 ld
            let mutable d = NativePtr.add dst r

            for p in 0 .. kc - 1 do
                NativePtr.set d 0 (NativePtr.get s0 p)
                NativePtr.set d 1 (NativePtr.get s1 p)
                NativePtr.set d 2 (NativePtr.get s2 p)
                NativePtr.set d 3 (NativePtr.get s3 p)
                d <- NativePtr.add d w

            r <- r + 4

        while r < count do
            let s = NativePtr.add src (r * ld)

            for p in 0 .. kc - 1 do
                NativePtr.set dst (p * w + r) (NativePtr.get s p)

            r <- r + 1

        if count < w then
            for p in 0 .. kc - 1 do
                clear (NativePtr.add dst (p * w + count)) (w - count)

    /// Packs op(B)[pc .. pc+kc-1, jc .. jc+nc-1] into column strips nr wide: strip s holds columns
    /// jc + s·nr onwards as kc rows of nr values, zero-padded past the last column.
    /// op(B) is k×n: B is stored k×n (row stride ldb = n) or, when transB, n×k (row stride ldb = k).
    let private packPanelB<'T when 'T: unmanaged>
        (transB: bool)
        (nr: int)
        (b: nativeptr<'T>)
        (ldb: int)
        (pc: int)
        (jc: int)
        (kc: int)
        (nc: int)
        (dst: nativeptr<'T>)
        =
        if transB then
            for j in 0 .. nr .. nc - 1 do
                let width = min nr (nc - j)
                let strip = NativePtr.add dst (j * kc)
                packTransposed (NativePtr.add b ((jc + j) * ldb + pc)) ldb width kc strip nr
        else
            packAcross (NativePtr.add b (pc * ldb + jc)) ldb nc kc dst nr

    /// Packs op(A)[ic .. ic+mc-1, pc .. pc+kc-1] into row strips mr high: strip s holds rows
    /// ic + s·mr onwards as kc columns of mr values, zero-padded past the last row.
    /// op(A) is m×k: A is stored m×k (row stride lda = k) or, when transA, k×m (row stride lda = m).
    let private packPanelA<'T when 'T: unmanaged>
        (transA: bool)
        (mr: int)
        (a: nativeptr<'T>)
        (lda: int)
        (ic: int)
        (pc: int)
        (mc: int)
        (kc: int)
        (dst: nativeptr<'T>)
        =
        if transA then
            packAcross (NativePtr.add a (pc * lda + ic)) lda mc kc dst mr
        else
            for i in 0 .. mr .. mc - 1 do
                let height = min mr (mc - i)
                let strip = NativePtr.add dst (i * kc)
                packTransposed (NativePtr.add a ((ic + i) * lda + pc)) lda height kc strip mr

    // ---------------------------------------------------------------------------------------------
    // Blocking.

    /// All register tiles of one packed A block (mc × kc) times one packed B panel (kc × nc) into
    /// C (row stride ldc). Edge tiles go through the scratch tile (mr × nr, row stride nr).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let private macroKernel<'T when 'T: unmanaged>
        (kernel: Kernel<'T>)
        (mc: int)
        (nc: int)
        (kc: int)
        (packedA: nativeptr<'T>)
        (packedB: nativeptr<'T>)
        (c: nativeptr<'T>)
        (ldc: int)
        (accumulate: bool)
        (scratch: nativeptr<'T>)
        =
        let mr = kernel.Mr
        let nr = kernel.Nr
        let mutable i = 0

        while i < mc do
            let height = min mr (mc - i)
            let aStrip = NativePtr.add packedA (i * kc)
            let mutable j = 0

            while j < nc do
                let width = min nr (nc - j)
                let bStrip = NativePtr.add packedB (j * kc)
                let cTile = NativePtr.add c (i * ldc + j)

                if height = mr && width = nr then
                    runTile kc aStrip bStrip cTile ldc accumulate
                else
                    if accumulate then
                        for r in 0 .. height - 1 do
                            copy (NativePtr.add cTile (r * ldc)) (NativePtr.add scratch (r * nr)) width

                    runTile kc aStrip bStrip scratch nr accumulate

                    for r in 0 .. height - 1 do
                        copy (NativePtr.add scratch (r * nr)) (NativePtr.add cTile (r * ldc)) width

                j <- j + nr

            i <- i + mr

    /// A pinned per-thread byte buffer for the packed panels, grown on demand and reused.
    [<AbstractClass; Sealed>]
    type private Workspace =
        [<ThreadStatic; DefaultValue>]
        static val mutable private buffer: byte[]

        /// At least the given number of bytes; the contents are undefined.
        static member Get(bytes: int) : byte[] =
            let current = Workspace.buffer

            if not (isNull current) && current.Length >= bytes then
                current
            else
                let fresh = GC.AllocateUninitializedArray<byte>(bytes, pinned = true)
                Workspace.buffer <- fresh
                fresh

    let inline private roundUp (x: int) (multiple: int) = (x + multiple - 1) / multiple * multiple

    /// The address p rounded up to a 64-byte (cache line, Vector512) boundary.
    let inline private align64 (p: nativeint) : nativeint = (p + 63n) &&& ~~~63n

    let private checkOperand (name: string) (length: int) (offset: int) (count: int64) =
        if offset < 0 || int64 offset + count > int64 length then
            let message =
                sprintf "GEMM operand %s: offset %d + %d elements > length %d" name offset count length

            invalidArg name message

    /// Products with fewer multiply-adds than this stay on the calling thread: below it the cost of
    /// waking a second thread is a large share of the work.
    [<Literal>]
    let private ParallelMinWork = 2_000_000L

    /// The most bytes the parallel schedule packs at once (A's and B's KC slices for a span of the
    /// inner dimension); longer inner dimensions are cut into spans of whole KC slices.
    [<Literal>]
    let private ParallelWorkspace = 33_554_432L

    /// The sequential schedule: per (NC panel, KC slice) pack the B panel, then per MC block pack
    /// the A block and run its tiles, so each A block is used while it is still in L2.
    let private runSequential<'T when 'T: unmanaged>
        (kernel: Kernel<'T>)
        (transA: bool)
        (transB: bool)
        (m: int)
        (n: int)
        (k: int)
        (a0: nativeptr<'T>)
        (b0: nativeptr<'T>)
        (c0: nativeptr<'T>)
        =
        let mr = kernel.Mr
        let nr = kernel.Nr
        let kcMax = sliceOf kernel k
        let mcMax = min (roundUp m mr) kernel.Mc
        let ncMax = min (roundUp n nr) kernel.Nc
        let size = sizeof<'T>
        let aBytes = roundUp (mcMax * kcMax * size) 64
        let bBytes = roundUp (kcMax * ncMax * size) 64
        let workspace = Workspace.Get(64 + aBytes + bBytes + mr * nr * size)
        use wp = fixed workspace
        let basePtr = align64 (NativePtr.toNativeInt wp)
        let packedA = NativePtr.ofNativeInt<'T> basePtr
        let packedB = NativePtr.ofNativeInt<'T> (basePtr + nativeint aBytes)
        let scratch = NativePtr.ofNativeInt<'T> (basePtr + nativeint (aBytes + bBytes))
        clear scratch (mr * nr)
        let lda = if transA then m else k
        let ldb = if transB then k else n
        let mutable ic = 0

        while ic < m do
            let mc = min kernel.Mc (m - ic)
            let mutable pc = 0

            while pc < k do
                let kc = min kcMax (k - pc)
                packPanelA transA mr a0 lda ic pc mc kc packedA
                let mutable jc = 0

                while jc < n do
                    let nc = min kernel.Nc (n - jc)
                    packPanelB transB nr b0 ldb pc jc kc nc packedB
                    let cBlock = NativePtr.add c0 (ic * n + jc)
                    macroKernel kernel mc nc kc packedA packedB cBlock n (pc > 0) scratch
                    jc <- jc + nc

                pc <- pc + kc

            ic <- ic + mc

    /// A small per-thread scratch tile for the edge tiles of the parallel schedule.
    [<AbstractClass; Sealed>]
    type private EdgeTile =
        [<ThreadStatic; DefaultValue>]
        static val mutable private buffer: byte[]

        /// At least the given number of bytes, pinned, zero-filled on first use.
        static member Get(bytes: int) : byte[] =
            let current = EdgeTile.buffer

            if not (isNull current) && current.Length >= bytes then
                current
            else
                let fresh = GC.AllocateArray<byte>(bytes, pinned = true)
                EdgeTile.buffer <- fresh
                fresh

    /// The parallel schedule, per NC panel of op(B) and per span of the inner dimension (whole KC
    /// slices that fit the workspace, usually all of k): first every KC slice of op(A) and of the B
    /// panel is packed into shared buffers (chunks: one MC row block of A or one column group of B
    /// in one slice), then the output blocks (MC rows × one column group) run as independent
    /// chunks, each walking the KC slices in order. Every output element sees the same KC slices in
    /// the same order through the same micro-kernel as in the sequential schedule, so the result is
    /// bitwise the same whatever the number of threads; a product costs two parallel regions.
    let private runParallel<'T when 'T: unmanaged>
        (kernel: Kernel<'T>)
        (transA: bool)
        (transB: bool)
        (m: int)
        (n: int)
        (k: int)
        (kSpan: int)
        (a0: nativeptr<'T>)
        (b0: nativeptr<'T>)
        (c0: nativeptr<'T>)
        =
        let mr = kernel.Mr
        let nr = kernel.Nr
        let kcStep = sliceOf kernel k
        let mRound = roundUp m mr
        let ncMax = min (roundUp n nr) kernel.Np
        let mBlock = kernel.Mb
        let nGroup = kernel.Ng
        let size = sizeof<'T>
        let aBytes = roundUp (mRound * kSpan * size) 64
        let bBytes = roundUp (kSpan * ncMax * size) 64
        let workspace = Workspace.Get(64 + aBytes + bBytes)
        use wp = fixed workspace
        let basePtr = align64 (NativePtr.toNativeInt wp)
        let packedA = basePtr
        let packedB = basePtr + nativeint aBytes
        let cBase = NativePtr.toNativeInt c0
        let aBase = NativePtr.toNativeInt a0
        let bBase = NativePtr.toNativeInt b0
        let lda = if transA then m else k
        let ldb = if transB then k else n
        let mChunks = Parallel.chunkCount m mBlock
        let mutable jc = 0

        while jc < n do
            let nc = min kernel.Np (n - jc)
            let ncRound = roundUp nc nr
            let nChunks = Parallel.chunkCount nc nGroup
            let packChunks = mChunks + nChunks
            let jcNow = jc
            let mutable k0 = 0

            while k0 < k do
                let kStart = k0
                let kEnd = min k (k0 + kSpan)
                let slices = Parallel.chunkCount (kEnd - kStart) kcStep
                // The slice at inner step pc (kc steps) of A starts at (pc − kStart)·mRound, of B at
                // (pc − kStart)·ncRound; inside it, A's row strip i starts at i·kc, B's column strip
                // j at j·kc.
                Parallel.forChunks true (slices * packChunks) (fun chunk ->
                    let pc = kStart + chunk / packChunks * kcStep
                    let kc = min kcStep (kEnd - pc)
                    let part = chunk % packChunks

                    if part < mChunks then
                        let ic = part * mBlock
                        let dst = NativePtr.add (NativePtr.ofNativeInt<'T> packedA) ((pc - kStart) * mRound + ic * kc)
                        packPanelA transA mr (NativePtr.ofNativeInt<'T> aBase) lda ic pc (min mBlock (m - ic)) kc dst
                    else
                        let j = (part - mChunks) * nGroup
                        let dst = NativePtr.add (NativePtr.ofNativeInt<'T> packedB) ((pc - kStart) * ncRound + j * kc)
                        packPanelB transB nr (NativePtr.ofNativeInt<'T> bBase) ldb pc (jcNow + j) kc (min nGroup (nc - j)) dst)

                Parallel.forChunks true (mChunks * nChunks) (fun chunk ->
                    let ic = chunk / nChunks * mBlock
                    let j = chunk % nChunks * nGroup
                    let edge = EdgeTile.Get(mr * nr * size)
                    use ep = fixed edge
                    let scratch = NativePtr.ofNativeInt<'T> (NativePtr.toNativeInt ep)
                    let cBlock = NativePtr.add (NativePtr.ofNativeInt<'T> cBase) (ic * n + jcNow + j)
                    let mc = min mBlock (m - ic)
                    let ncw = min nGroup (nc - j)
                    let mutable pc = kStart

                    while pc < kEnd do
                        let kc = min kcStep (kEnd - pc)
                        let aBlock = NativePtr.add (NativePtr.ofNativeInt<'T> packedA) ((pc - kStart) * mRound + ic * kc)
                        let bGroup = NativePtr.add (NativePtr.ofNativeInt<'T> packedB) ((pc - kStart) * ncRound + j * kc)
                        macroKernel kernel mc ncw kc aBlock bGroup cBlock n (pc > 0) scratch
                        pc <- pc + kc)

                k0 <- kEnd

            jc <- jc + nc

    let private run<'T when 'T: unmanaged>
        (kernel: Kernel<'T>)
        (transA: bool)
        (transB: bool)
        (m: int)
        (n: int)
        (k: int)
        (a: 'T[])
        (aOffset: int)
        (b: 'T[])
        (bOffset: int)
        (c: 'T[])
        (cOffset: int)
        =
        if m < 0 || n < 0 || k < 0 then
            invalidArg "m" (sprintf "GEMM dimensions must be non-negative, got m=%d n=%d k=%d" m n k)

        if m > 0 && n > 0 then
            checkOperand "c" c.Length cOffset (int64 m * int64 n)

            if k = 0 then
                Array.Clear(c, cOffset, m * n)
            else
                checkOperand "a" a.Length aOffset (int64 m * int64 k)
                checkOperand "b" b.Length bOffset (int64 k * int64 n)
                use ap = fixed a
                use bp = fixed b
                use cp = fixed c
                let a0 = NativePtr.add ap aOffset
                let b0 = NativePtr.add bp bOffset
                let c0 = NativePtr.add cp cOffset

                let blocks =
                    Parallel.chunkCount m kernel.Mb * Parallel.chunkCount (min n kernel.Np) kernel.Ng

                // Spans of whole KC slices whose packed A and B fit ParallelWorkspace bytes.
                let kc = sliceOf kernel k
                let perStep = int64 (roundUp m kernel.Mr + min (roundUp n kernel.Nr) kernel.Np) * int64 sizeof<'T>
                let kSpan = min (int64 (roundUp k kc)) (ParallelWorkspace / perStep / int64 kc * int64 kc)

                if Threads.Count > 1 && blocks > 1 && int64 m * int64 n * int64 k >= ParallelMinWork && kSpan > 0L then
                    runParallel kernel transA transB m n k (int kSpan) a0 b0 c0
                else
                    runSequential kernel transA transB m n k a0 b0 c0

    /// C = op(A) · op(B), row-major. op(A) is m×k: A is stored m×k (row stride k) or, when transA,
    /// k×m (row stride m). op(B) is k×n: B is stored k×n (row stride n) or, when transB, n×k (row
    /// stride k). C (m×n, row stride n) is overwritten, not accumulated. Offsets locate each matrix
    /// inside its array (for batches).
    let gemm32
        (transA: bool)
        (transB: bool)
        (m: int)
        (n: int)
        (k: int)
        (a: float32[])
        (aOffset: int)
        (b: float32[])
        (bOffset: int)
        (c: float32[])
        (cOffset: int)
        : unit =
        run kernel32 transA transB m n k a aOffset b bOffset c cOffset

    /// The float64 twin of gemm32 (same layout and semantics).
    let gemm64
        (transA: bool)
        (transB: bool)
        (m: int)
        (n: int)
        (k: int)
        (a: float[])
        (aOffset: int)
        (b: float[])
        (bOffset: int)
        (c: float[])
        (cOffset: int)
        : unit =
        run kernel64 transA transB m n k a aOffset b bOffset c cOffset
