/// The buffer pool (arrays come back when the last tensor viewing them is gone, accumulating kernels
/// start from zeros even on reused arrays, views keep their array, no gen-2 collections in a steady
/// training loop) and the thread-count independence of the chunked elementwise kernels and
/// reductions. These tests change process-wide state (Threads.Count, the pool, GC counts), so they
/// run alone, in a collection that is never parallelised with other tests.
module TinyTorch.Properties.MemoryAndThreadsTests

open System
open System.Runtime.CompilerServices
open Xunit
open TinyTorch
open TinyTorch.Functional

[<CollectionDefinition("threads and memory", DisableParallelization = true)>]
type ThreadsAndMemoryCollection() =
    class
    end

/// Large enough to be pooled and to run on several threads (more than four chunks), and not a
/// multiple of the chunk size, so the last chunk is partial.
let private n = 4 * Kernels.ChunkSize + 12347

let private randomValues (seed: int) (length: int) =
    let r = Random(seed)
    let a = Array.init length (fun _ -> r.NextDouble() * 6.0 - 3.0)
    // Exact zeros and ties at the step thresholds, and one NaN: the masks' special cases.
    for i in 0..997..length - 1 do
        a[i] <- 0.0

    a[length / 2] <- Double.NaN
    a

let private tensorOf (dtype: DType) (values: float[]) = Tensor.cast dtype (Tensor.FromArray(values, values.Length))

/// The bits of every element; every NaN counts as one (a vectorized routine may return a NaN input
/// with another sign or payload depending on the JIT tier that runs it).
let private bits (t: Tensor) =
    t.ToArray() |> Array.map (fun v -> if Double.IsNaN v then -1L else BitConverter.DoubleToInt64Bits v)

let private withThreads (count: int) (f: unit -> 'T) : 'T =
    let saved = Threads.Count

    try
        Threads.Count <- count
        f ()
    finally
        Threads.Count <- saved

/// A tensor of <paramref name="length"/> elements filled with 7, dropped at once (not inlined, so
/// nothing keeps it alive): after a collection its array waits in the pool, dirty.
[<MethodImpl(MethodImplOptions.NoInlining)>]
let private dropDirty (dtype: DType) (length: int) : unit =
    Tensor.Full(Shape.Of length, 7.0, dtype) |> ignore

/// Puts dirty arrays of the given length (both float dtypes) into the pool.
let private poison (length: int) =
    for dtype in [ DType.Float32; DType.Float64 ] do
        dropDirty dtype length
        dropDirty dtype length

    GC.Collect()
    GC.WaitForPendingFinalizers()

[<Collection("threads and memory")>]
type ThreadCountTests() =

    /// Every chunked kernel on both float dtypes, as raw bits.
    let results () =
        [ for dtype in [ DType.Float32; DType.Float64 ] do
              let x = tensorOf dtype (randomValues 1 n)
              let y = tensorOf dtype (randomValues 2 n)

              // Not e^x or tanh: the runtime's vectorized float64 versions can move a last bit between
              // two calls on one thread (as the JIT re-tiers them), which would hide what is tested here.
              for kernel in [ MapKernel.Relu; MapKernel.Step(0.0, 0.5); MapKernel.StepBelow(0.0, 1.0); MapKernel.Sign; MapKernel.Softplus; MapKernel.Sqrt; MapKernel.Abs; MapKernel.Negate ] do
                  yield sprintf "%O map %A" dtype kernel, bits (Tensor.map kernel x)

              for kernel in [ ZipKernel.Add; ZipKernel.Divide; ZipKernel.SafeMultiply; ZipKernel.Maximum ] do
                  yield sprintf "%O zip %A" dtype kernel, bits (Tensor.zipSame kernel x y)

              yield sprintf "%O step_multiply" dtype, bits (Tensor.stepMultiply 0.0 0.0 y x)

              yield sprintf "%O x * 0.3" dtype, bits (Tensor.multiply x (Tensor.scalarLike 0.3 x))
              yield sprintf "%O 0.3 - x" dtype, bits (Tensor.subtract (Tensor.scalarLike 0.3 x) x)
              yield sprintf "%O expand" dtype, bits (Tensor.expand (Shape.Of n) (Tensor.scalarLike 1.5 x))
              yield sprintf "%O cast" dtype, bits (Tensor.cast (if dtype = DType.Float32 then DType.Float64 else DType.Float32) x)
              yield sprintf "%O sum" dtype, bits (Tensor.sumAll y)
              yield sprintf "%O sum of finite" dtype, bits (Tensor.sumAll (Tensor.map MapKernel.Relu x)) ]

    [<Fact>]
    member _.``one thread and two give bitwise identical elementwise results and sums``() =
        let one = withThreads 1 results
        let two = withThreads 2 results
        Assert.Equal(one.Length, two.Length)

        let differing =
            List.zip one two
            |> List.filter (fun ((_, a), (_, b)) -> a <> b)
            |> List.map (fun ((name, a), (_, b)) -> sprintf "%s (%d of %d elements)" name (Array.fold2 (fun k p q -> if p <> q then k + 1 else k) 0 a b) a.Length)

        Assert.True(differing.IsEmpty, sprintf "these differ between 1 and 2 threads: %s" (String.Join("; ", differing)))

    [<Fact>]
    member _.``a large sum adds per-chunk partial sums in chunk order``() =
        let values = randomValues 3 n |> Array.map (fun v -> if Double.IsNaN v then 0.25 else v)

        // The documented order: each chunk summed on its own, then the partials left to right.
        let expected =
            values
            |> Array.chunkBySize Kernels.ChunkSize
            |> Array.map (fun chunk -> (Tensor.sumAll (Tensor.FromArray(chunk, chunk.Length))).Item())
            |> Array.fold (+) 0.0

        for threads in [ 1; 2 ] do
            let total = withThreads threads (fun () -> (Tensor.sumAll (Tensor.FromArray(values, n))).Item())
            Assert.Equal(BitConverter.DoubleToInt64Bits expected, BitConverter.DoubleToInt64Bits total)

[<Collection("threads and memory")>]
type PoolTests() =

    /// The array of a pooled tensor that is dropped at once.
    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let droppedArray (length: int) : Array = (Tensor.Full(Shape.Of length, 3.0, DType.Float64)).Data

    /// A reshaped view of a pooled tensor; the original is dropped.
    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let viewOfDropped (length: int) : Tensor =
        Tensor.Full(Shape.Of length, 3.0, DType.Float64) |> Tensor.reshape (Shape.Of(length / 2, 2))

    /// A big computation: a loop of 48 MB results while 384 MB of others stay alive, then all dropped.
    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let bigComputation () =
        let size = Shape.Of(6_000_000 + 7)
        let held = [ for _ in 1..8 -> Tensor.Full(size, 1.0, DType.Float64) ]

        for _ in 1..24 do
            GC.KeepAlive(Tensor.Full(size, 2.0, DType.Float64))

        GC.KeepAlive held

    [<Fact>]
    member _.``a dropped tensor's array is reused by the next tensor of that length``() =
        let length = n + 1 // a length no other test uses
        let array = droppedArray length
        GC.Collect()
        GC.WaitForPendingFinalizers()
        let next = Tensor.Full(Shape.Of length, 1.0, DType.Float64)
        Assert.Same(array, next.Data)
        Assert.True(next.ToArray() |> Array.forall ((=) 1.0))

    [<Fact>]
    member _.``after a big computation a loop on a new size settles on pooled arrays``() =
        // Regression: the collection budget used to grow with the live bytes and stay grown, so after a
        // loop that kept 384 MB live, a loop of 1 MB results allocated hundreds of new arrays (a page fault per
        // 4 KB each) before its first collection; a 512² product ran at a quarter of its speed meanwhile.
        bigComputation ()
        let length = 131_072 + 11 // 1 MB of float64, a length no other test uses
        let newBytes (iterations: int) =
            let before = GC.GetAllocatedBytesForCurrentThread()
            for _ in 1..iterations do
                GC.KeepAlive(Tensor.Full(Shape.Of length, 2.0, DType.Float64))
            GC.GetAllocatedBytesForCurrentThread() - before

        newBytes 320 |> ignore // new arrays until 64 MB were handed out, then a collection gives them back
        let settled = newBytes 200
        Assert.True(settled < 4L * 1_048_576L, sprintf "the loop still allocates new arrays: %d bytes in 200 iterations" settled)

    [<Fact>]
    member _.``the pool's count of idle bytes matches the arrays it holds``() =
        // Regression: an array taken right after an induced collection was not subtracted from the idle
        // count, which drifted up to the capacity; the pool then dropped every array given back and a
        // loop of 4 MB results paid page faults for a new array each time (W5 ran 40 times slower).
        let length = 262_144 + 13 // 2 MB of float64, a length no other test uses
        for _ in 1..300 do
            GC.KeepAlive(Tensor.Full(Shape.Of length, 2.0, DType.Float64))

        Assert.Equal(Pool.idleRecounted (), Pool.idle ())

    [<Fact>]
    member _.``a full pool makes room by dropping the sizes used least recently``() =
        let mb = 1_048_576
        let idle = IdleArrays(int64 (5 * mb + 100)) // room for five arrays of about 1 MB
        let old = [ for _ in 1..3 -> Array.zeroCreate<byte> mb ]
        let recent = [ for _ in 1..2 -> Array.zeroCreate<byte> (mb + 1) ]
        let current = [ for _ in 1..3 -> Array.zeroCreate<byte> (mb + 2) ]

        for a in old do Assert.True(idle.Put a)
        for a in recent do Assert.True(idle.Put a)
        // Full: each of these pushes out an array of the least recently used size, the oldest first.
        for a in current do Assert.True(idle.Put a)

        Assert.True(idle.Bytes <= int64 (5 * mb + 100), sprintf "%d bytes idle, more than the capacity" idle.Bytes)
        Assert.Equal(idle.Recount(), idle.Bytes)
        let taken (length: int) = List.unfold (fun () -> match idle.Take(typeof<byte>, length) with null -> None | a -> Some(a, ())) ()
        Assert.Equal(3, (taken (mb + 2)).Length)
        Assert.Equal(2, (taken (mb + 1)).Length)
        Assert.Empty(taken mb)
        // An array larger than the capacity is refused, and nothing is dropped for it.
        Assert.True(idle.Put(Array.zeroCreate<byte> mb))
        Assert.False(idle.Put(Array.zeroCreate<byte> (6 * mb)))
        Assert.Equal(int64 mb, idle.Bytes)

    [<Fact>]
    member _.``a reshaped view keeps its array when the original tensor is dropped``() =
        let length = n + 3
        let view = viewOfDropped length
        GC.Collect()
        GC.WaitForPendingFinalizers()
        let others = [ for _ in 1..3 -> Tensor.Full(Shape.Of length, 9.0, DType.Float64) ]
        Assert.True(view.ToArray() |> Array.forall ((=) 3.0), "the view's values changed: its array was recycled")
        Assert.All(others, fun o -> Assert.NotSame(view.Data, o.Data))

    [<Fact>]
    member _.``kernels that accumulate start from zeros even on a reused dirty array``() =
        // slice_scatter: x at even positions, zeros at odd ones.
        let half = n / 2
        poison (2 * half)
        let scattered = Tensor.sliceScatter 0 0 2 (2 * half) (Tensor.Ones(Shape.Of half, DType.Float64))
        Assert.Equal(float half, (Tensor.sumAll scattered).Item())
        Assert.Equal(0.0, scattered.GetFlat 1)

        // sum_to over a broadcast leading axis: 1 + 1 everywhere.
        poison n
        let summed = Tensor.sumTo (Shape.Of n) (Tensor.Ones(Shape.Of(2, n), DType.Float32))
        Assert.True(summed.ToArray() |> Array.forall ((=) 2.0))

        // index_add: rows 0, 0, 2 of ones into 4 rows give 2, 0, 1, 0.
        let width = Pool.Threshold / 2
        poison (4 * width)
        let added = Tensor.indexAdd 0 (Tensor([| 0L; 0L; 2L |])) 4 (Tensor.Ones(Shape.Of(3, width), DType.Float64))
        Assert.Equal<float[]>([| 2.0; 0.0; 1.0; 0.0 |], [| for r in 0..3 -> added.GetFlat(r * width) |])
        Assert.Equal(3.0 * float width, (Tensor.sumAll added).Item())

        // scatter_add: a row of ones into row 0 of two rows.
        poison (2 * n)
        let index = Tensor.Zeros(Shape.Of(1, n), DType.Int64)
        let spread = Tensor.scatterAdd 0 index (Shape.Of(2, n)) (Tensor.Ones(Shape.Of(1, n), DType.Float64))
        Assert.Equal(float n, (Tensor.sumAll spread).Item())
        Assert.Equal(0.0, spread.GetFlat(n + 5))

        // A matrix product with an empty inner dimension is zeros.
        poison (256 * 128)
        let empty = Tensor.matmulSame false false (Tensor.Zeros(Shape.Of(256, 0), DType.Float32)) (Tensor.Zeros(Shape.Of(0, 128), DType.Float32))
        Assert.True(empty.ToArray() |> Array.forall ((=) 0.0))

    [<Fact>]
    member _.``a steady training loop with pooled buffers triggers no gen-2 collection``() =
        // 128 × 512 → 256 ReLU → 10, cross-entropy, SGD: activations and weights are pooled sizes.
        let r = Random(5)
        let init (rows: int) (cols: int) (scale: float) = Tensor.cast DType.Float32 (Tensor.FromArray(Array.init (rows * cols) (fun _ -> (r.NextDouble() * 2.0 - 1.0) * scale), rows, cols))
        let x = Node.constant (init 128 512 1.0)
        let labels = Tensor(Array.init 128 (fun i -> int64 (i % 10)))
        let mutable w1 = init 512 256 (1.0 / sqrt 512.0)
        let mutable w2 = init 256 10 (1.0 / sqrt 256.0)

        let step () =
            let l1, l2 = Node.leaf w1, Node.leaf w2
            let hidden = Node.relu (Node.matmul x l1)
            let loss = Loss.crossEntropy Reduction.Mean null 0.0 (Node.matmul hidden l2) labels
            let grads = Reverse.gradients loss
            let struct (n1, _) = Optim.sgdStep 0.05 0.0 0.0 false 0.0 w1 grads[l1].Value null
            let struct (n2, _) = Optim.sgdStep 0.05 0.0 0.0 false 0.0 w2 grads[l2].Value null
            w1 <- n1
            w2 <- n2
            loss.Value.Item()

        let first = step ()

        for _ in 1..20 do
            step () |> ignore

        GC.Collect()
        GC.WaitForPendingFinalizers()
        let before = GC.CollectionCount 2
        let mutable last = 0.0

        for _ in 1..40 do
            last <- step ()

        Assert.Equal(0, GC.CollectionCount 2 - before)
        Assert.True(last < first, sprintf "the loss did not fall (%g -> %g): the loop is not training" first last)

/// The fused cotangent kernel of relu and clamp_min against its two-op definition.
type StepMultiplyTests() =

    [<Fact>]
    member _.``step_multiply equals safe_multiply of g and the step mask, bit for bit, special values included``() =
        let specials = [| 0.0; -0.0; 1.0; -2.5; 0.5; Double.PositiveInfinity; Double.NegativeInfinity; Double.NaN |]

        for length in [ 1; 7; 40; n ] do
            let g = Array.init length (fun i -> specials[(i * 5 + i / 8) % specials.Length])
            let x = Array.init length (fun i -> specials[(i * 3 + 1) % specials.Length])

            for dtype in [ DType.Float32; DType.Float64 ] do
                for threshold, at in [ 0.0, 0.0; 0.5, 1.0; -2.5, 0.25 ] do
                    let gt, xt = tensorOf dtype g, tensorOf dtype x
                    let fused = Tensor.stepMultiply threshold at gt xt
                    let twoOps = Tensor.zipSame ZipKernel.SafeMultiply gt (Tensor.map (MapKernel.Step(threshold, at)) xt)
                    let rawBits (t: Tensor) = t.ToArray() |> Array.map BitConverter.DoubleToInt64Bits
                    Assert.True((rawBits fused = rawBits twoOps), sprintf "%O, length %d, step(%g, %g) differs" dtype length threshold at)
