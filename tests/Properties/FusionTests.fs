/// Deferred, fused elementwise computation (Fusion): every result, gradient and sum is bit for bit
/// what the separate kernels give, on any number of threads, and the results a backward pass leaves
/// are computed. These tests switch fusion off and on (process-wide), so they run in the collection
/// that is never parallelised with other tests.
module TinyTorch.Properties.FusionTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch
open TinyTorch.Functional

/// Sizes at and above the fusion threshold: a partial last chunk, and a last chunk shorter than one
/// vector (its kernel's last vector reaches back into the chunk before).
let private sizes = [ Fusion.Threshold + 12347; 2 * Kernels.ChunkSize + 5 ]

/// Standard normal-ish values with exact zeros, ties at 0 and 1 (the step thresholds), a NaN, ±inf and −0.
let private values (seed: int) (length: int) =
    let r = Random(seed)
    let a = Array.init length (fun _ -> (r.NextDouble() - 0.5) * 6.0)

    for i in 0..613..length - 1 do
        a[i] <- 0.0

    for i in 5..1009..length - 1 do
        a[i] <- 1.0

    a[length / 3] <- Double.NaN
    a[length / 2] <- Double.PositiveInfinity
    a[length - 2] <- Double.NegativeInfinity
    a[7] <- -0.0
    a

let private tensorOf (dtype: DType) (values: float[]) = Tensor.cast dtype (Tensor.FromArray(values, values.Length))

/// Every element's bits; every NaN counts as one (see MemoryAndThreadsTests).
let private bits (t: Tensor) =
    t.ToArray() |> Array.map (fun v -> if Double.IsNaN v then -1L else BitConverter.DoubleToInt64Bits v)

let private withFusion (enabled: bool) (threads: int) (f: unit -> 'T) : 'T =
    let saved, savedThreads = Fusion.Enabled, Threads.Count

    try
        Fusion.Enabled <- enabled
        Threads.Count <- threads
        f ()
    finally
        Fusion.Enabled <- saved
        Threads.Count <- savedThreads

/// One step of a random elementwise program over a stack of tensors: every fusable op, in every
/// operand form (two tensors, a tensor and a number either side, an expanded number), and some that
/// compute their operand (a reshape, a round trip through the other dtype), so deferred and computed
/// tensors mix. (No transcendental ops: TensorPrimitives' exp and tanh may differ in the last bit
/// between JIT tiers, which would fail the comparison for reasons that have nothing to do with fusion.)
let private step (code: int) (stack: Tensor list) : Tensor list =
    match stack with
    | x :: y :: rest ->
        let r =
            match code % 22 with
            | 0 -> Tensor.add x y
            | 1 -> Tensor.subtract x y
            | 2 -> Tensor.multiply x y
            | 3 -> Tensor.divide x y
            | 4 -> Tensor.zipSame ZipKernel.Maximum x y
            | 5 -> Tensor.zipSame ZipKernel.Minimum x y
            | 6 -> Tensor.zipSame ZipKernel.SafeMultiply x y
            | 7 -> Tensor.stepMultiply 0.0 0.5 x y
            | 8 -> Tensor.map MapKernel.Relu x
            | 9 -> Tensor.map (MapKernel.Step(1.0, 0.5)) x
            | 10 -> Tensor.map (MapKernel.StepBelow(0.1, 1.0)) x
            | 11 -> Tensor.map MapKernel.Sign x
            | 12 -> Tensor.negate x
            | 13 -> Tensor.map MapKernel.Abs x
            | 14 -> Tensor.sqrt x
            | 15 -> Tensor.map (MapKernel.ClampMin -0.7) (Tensor.map (MapKernel.ClampMax 2.1) x)
            | 16 -> x * 1.7
            | 17 -> 0.3 - x
            | 18 -> 2.5 / x
            | 19 -> Tensor.add x (Tensor.expand x.Shape (Tensor.scalarLike 0.25 x))
            | 20 -> Tensor.reshape x.Shape x
            | _ -> Tensor.cast x.DType (Tensor.cast (if x.DType = DType.Float32 then DType.Float64 else DType.Float32) y)

        // Keep y below: later steps reuse tensors (a deferred tensor feeding several expressions).
        r :: x :: y :: rest
    | _ -> stack

/// Runs a program from three inputs; returns every tensor made and the sum of the last.
let private run (dtype: DType) (size: int) (seed: int) (program: int list) =
    let inputs = [ for k in 0..2 -> tensorOf dtype (values (seed + k) size) ]
    let mutable stack = inputs
    let made = Collections.Generic.List<Tensor>()

    for code in program do
        stack <- step code stack
        made.Add(List.head stack)

    let total = Tensor.sumAll (List.head stack)
    made |> Seq.map bits |> Seq.toList, bits total

[<Collection("threads and memory")>]
type FusionProperties() =

    [<Property(MaxTest = 40)>]
    member _.``a program's every result and its sum are bit for bit the unfused ones, on one thread or two``() =
        let program = Gen.listOfLength 12 (Gen.choose (0, 1000))
        let input = Gen.zip3 (Gen.elements [ DType.Float32; DType.Float64 ]) (Gen.elements sizes) (Gen.zip (Gen.choose (0, 1000)) program)

        Prop.forAll (Arb.fromGen input) (fun (dtype, size, (seed, program)) ->
            let unfused = withFusion false 1 (fun () -> run dtype size seed program)
            let fused1 = withFusion true 1 (fun () -> run dtype size seed program)
            let fused2 = withFusion true 2 (fun () -> run dtype size seed program)
            let firstDifference (a: int64[] list * int64[]) (b: int64[] list * int64[]) =
                List.zip (fst a) (fst b)
                |> List.tryFindIndex (fun (x, y) -> x <> y)
                |> Option.map (fun k ->
                    let x, y = (fst a)[k], (fst b)[k]
                    let i = Array.findIndex id (Array.map2 (<>) x y)
                    sprintf "step %d element %d: %x vs %x" k i x[i] y[i])

            (unfused = fused1 && unfused = fused2)
            |> Prop.label (sprintf "%O n=%d program %A; 1 thread: %A; 2 threads: %A" dtype size program (firstDifference unfused fused1) (firstDifference unfused fused2)))

    [<Property(MaxTest = 30)>]
    member _.``gradients through fused forward and backward passes are bit for bit the unfused ones, and computed``() =
        let program = Gen.listOfLength 8 (Gen.choose (0, 1000))
        let input = Gen.zip3 (Gen.elements [ DType.Float32; DType.Float64 ]) (Gen.elements sizes) (Gen.zip (Gen.choose (0, 1000)) program)

        Prop.forAll (Arb.fromGen input) (fun (dtype, size, (seed, program)) ->
            let gradients () =
                let leaves = [| for k in 0..2 -> Node.leaf (tensorOf dtype (Array.map (fun v -> if Double.IsFinite v then v else 0.5) (values (seed + k) size))) |]
                let mutable stack = List.ofArray leaves

                for code in program do
                    stack <-
                        match stack with
                        | x :: y :: rest ->
                            let r =
                                match code % 9 with
                                | 0 -> Node.add x y
                                | 1 -> Node.multiply x y
                                | 2 -> Node.relu x
                                | 3 -> Node.subtract x (Node.scalarLike 0.5 x)
                                | 4 -> Node.maximum x y
                                | 5 -> Node.clamp -1.0 1.5 x
                                | 6 -> Node.divide x (Node.scalarLike 3.0 x)
                                | 7 -> Node.abs x
                                | _ -> Node.negate y
                            r :: x :: y :: rest
                        | s -> s

                let g = Reverse.gradients (Node.sumAll (Node.add (List.head stack) (List.last stack)))
                let computed = leaves |> Array.forall (fun l -> match g.TryFind l with Some n -> not n.Value.IsDeferred | None -> true)
                computed, leaves |> Array.map (fun l -> match g.TryFind l with Some n -> bits n.Value | None -> [||])

            let unfused = withFusion false 1 gradients
            let fused = withFusion true 1 gradients
            (fst fused && unfused = fused) |> Prop.label (sprintf "%O n=%d program %A computed=%b" dtype size program (fst fused)))

    [<Fact>]
    member _.``sum(relu(a·b + c)) runs fused: no array for its intermediates, and its gradients in one pass``() =
        withFusion true 1 (fun () ->
            let n = Fusion.Threshold + 3
            let a, b, c = tensorOf DType.Float32 (values 1 n), tensorOf DType.Float32 (values 2 n), tensorOf DType.Float32 (values 3 n)
            let hidden = Tensor.map MapKernel.Relu (Tensor.add (Tensor.multiply a b) c)
            Assert.True(hidden.IsDeferred)
            Tensor.sumAll hidden |> ignore
            // The sum read the expression without computing the tensor.
            Assert.True(hidden.IsDeferred)
            let expected = withFusion false 1 (fun () -> bits (Tensor.map MapKernel.Relu (Tensor.add (Tensor.multiply a b) c)))
            Assert.Equal<int64[]>(expected, bits hidden)
            Assert.False(hidden.IsDeferred))

    [<Fact>]
    member _.``an array a deferred expression reads is not given back early by the reverse engine``() =
        withFusion true 1 (fun () ->
            let t = Tensor.add (tensorOf DType.Float32 (values 4 Fusion.Threshold)) (Tensor.scalarLike 1.0 (Tensor(0.0f)))
            let before = bits t
            Assert.False(t.IsDeferred)
            let doubled = t * 2.0
            Assert.True(doubled.IsDeferred)
            // What the engine does with a cotangent after its last rule ran: give the array back at once.
            let storage = t.Storage :?> PooledStorage
            storage.Release()
            Assert.False(storage.IsReleased)
            // Renting that size again must not hand out t's array while doubled still reads it.
            let other = Tensor.Full(t.Shape, 7.0, DType.Float32)
            Assert.Equal<int64[]>(before |> Array.map (fun b -> if b = -1L then b else BitConverter.DoubleToInt64Bits(2.0 * BitConverter.Int64BitsToDouble b)), bits doubled)
            GC.KeepAlive other)

    [<Fact>]
    member _.``a long chain is cut into expressions of bounded size and still matches``() =
        let chain () =
            let mutable x = tensorOf DType.Float64 (values 9 (Fusion.Threshold + 1))
            for k in 1..200 do
                x <- Tensor.add (Tensor.multiply x (Tensor.scalarLike 0.999 x)) (Tensor.scalarLike (float k * 1e-3) x)
            x

        let fused = withFusion true 1 chain
        Assert.True(fused.Nodes <= 16)
        Assert.Equal<int64[]>(withFusion false 1 (fun () -> bits (chain ())), bits fused)
