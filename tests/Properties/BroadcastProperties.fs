/// NumPy broadcasting: compatible pairs give the broadcast shape and the right values,
/// incompatible pairs throw ShapeMismatchException naming the op and both shapes, and sumTo is
/// the adjoint of expand.
module TinyTorch.Properties.BroadcastProperties

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Properties.Generators

/// Independent model of NumPy broadcasting: right-align, sizes equal or one of them 1.
let private modelBroadcast (a: int[]) (b: int[]) : int[] option =
    let rank = max a.Length b.Length
    let at (s: int[]) i = if i < rank - s.Length then 1 else s[i - (rank - s.Length)]

    let dims =
        Array.init rank (fun i ->
            let da, db = at a i, at b i
            if da = db || db = 1 then Some da elif da = 1 then Some db else None)

    if Array.forall Option.isSome dims then Some(Array.map Option.get dims) else None

/// The row-major index in a tensor of shape <paramref name="small"/> that element
/// <paramref name="flat"/> of the broadcast shape <paramref name="big"/> reads.
let private sourceIndex (small: int[]) (big: int[]) (flat: int) =
    let mutable rest = flat
    let mutable index = 0
    let mutable stride = 1

    for i in big.Length - 1 .. -1 .. 0 do
        let coordinate = rest % big[i]
        rest <- rest / big[i]
        let k = i - (big.Length - small.Length)

        if k >= 0 then
            if small[k] <> 1 then index <- index + coordinate * stride
            stride <- stride * small[k]

    index

let private binaryOps: (string * (Node -> Node -> Node) * (float -> float -> float)) list =
    [ "add", Node.add, (+)
      "subtract", Node.subtract, (-)
      "multiply", Node.multiply, (*)
      "divide", Node.divide, (/) ]

let private valuesFor (dims: int[]) (offset: float) =
    Array.init (numel dims) (fun i -> offset + float i)

[<Property(Arbitrary = [| typeof<ShapeArbs> |], MaxTest = 300)>]
let ``compatible shapes never throw and give the NumPy broadcast shape`` (BroadcastPair(a, b)) =
    let expected = modelBroadcast a b
    let ab = Shape.broadcast "add" (Shape.Of a) (Shape.Of b)
    let ba = Shape.broadcast "add" (Shape.Of b) (Shape.Of a)

    (expected.IsSome && ab.ToArray() = expected.Value && ba.Equals ab)
    |> Prop.label (
        sprintf "a=%s b=%s broadcast %O / %O, model %A" (formatDims a) (formatDims b) ab ba expected
    )
    |> Prop.classify (a.Length <> b.Length) "different ranks"

[<Property(Arbitrary = [| typeof<ShapeArbs> |], MaxTest = 200)>]
let ``binary ops on compatible shapes broadcast values elementwise`` (BroadcastPair(a, b)) =
    let out = (modelBroadcast a b).Value
    let xa, xb = valuesFor a 1.0, valuesFor b 0.5
    let na, nb = Node.constant (tensorOf a xa), Node.constant (tensorOf b xb)

    binaryOps
    |> List.forall (fun (name, f, scalar) ->
        let y = (f na nb).Value
        let ok =
            y.Shape.ToArray() = out
            && Array.forall
                (fun k -> y.GetFlat k = scalar xa[sourceIndex a out k] xb[sourceIndex b out k])
                [| 0 .. numel out - 1 |]

        if not ok then printfn "%s: a=%s b=%s gave %O" name (formatDims a) (formatDims b) y
        ok)
    |> Prop.label (sprintf "a=%s b=%s" (formatDims a) (formatDims b))

[<Property(Arbitrary = [| typeof<ShapeArbs> |], MaxTest = 300)>]
let ``incompatible shapes always throw ShapeMismatchException naming the op and both shapes``
    (IncompatiblePair(a, b))
    =
    let ta, tb = tensorOf a (valuesFor a 1.0), tensorOf b (valuesFor b 1.0)

    let attempts: (string * (unit -> obj)) list =
        [ "add", (fun () -> box (Shape.broadcast "add" (Shape.Of a) (Shape.Of b)))
          "add", (fun () -> box (Node.add (Node.leaf ta) (Node.constant tb)))
          "subtract", (fun () -> box (Node.subtract (Node.constant ta) (Node.leaf tb)))
          "multiply", (fun () -> box (Node.multiply (Node.leaf ta) (Node.leaf tb)))
          "divide", (fun () -> box (Node.divide (Node.leaf ta) (Node.leaf tb)))
          "add", (fun () -> box (Tensor.add ta tb))
          "multiply", (fun () -> box (ta * tb)) ]

    attempts
    |> List.forall (fun (name, attempt) ->
        try
            attempt () |> ignore
            printfn "%s: a=%s b=%s did not throw" name (formatDims a) (formatDims b)
            false
        with :? ShapeMismatchException as e ->
            let ok =
                e.Operation = name
                && e.LeftShape.ToArray() = a
                && e.RightShape.ToArray() = b
                && e.Message.StartsWith(name + ":")
                && e.Message.Contains(formatDims a)
                && e.Message.Contains(formatDims b)

            if not ok then
                printfn "%s: a=%s b=%s: %s (op %s, left %O, right %O)" name (formatDims a) (formatDims b)
                    e.Message e.Operation e.LeftShape e.RightShape
            ok)
    |> Prop.label (sprintf "a=%s b=%s" (formatDims a) (formatDims b))

[<Property(Arbitrary = [| typeof<ShapeArbs> |], MaxTest = 300)>]
let ``the model rejects exactly the generated incompatible pairs`` (IncompatiblePair(a, b)) =
    // Guards the generator: an "incompatible" pair that broadcasts would make the test above vacuous.
    (modelBroadcast a b).IsNone |> Prop.label (sprintf "a=%s b=%s" (formatDims a) (formatDims b))

/// ⟨expand a, b⟩ = ⟨a, sumTo b⟩ in float64 for random a and b.
[<Property(Arbitrary = [| typeof<ShapeArbs> |], MaxTest = 300)>]
let ``sumTo is the adjoint of expand`` (ExpandPair(small, big)) (seed: int) =
    let rng = Random seed
    let a = tensorOf small (Array.init (numel small) (fun _ -> rng.NextDouble() * 2.0 - 1.0))
    let b = tensorOf big (Array.init (numel big) (fun _ -> rng.NextDouble() * 2.0 - 1.0))
    let expanded = Tensor.expand (Shape.Of big) a
    let summed = Tensor.sumTo (Shape.Of small) b
    let lhs, rhs = dot expanded b, dot a summed

    (expanded.Shape.ToArray() = big
     && summed.Shape.ToArray() = small
     && abs (lhs - rhs) <= 1e-12 * max 1.0 (abs lhs))
    |> Prop.label (
        sprintf
            "small=%s big=%s <expand a, b> = %g, <a, sumTo b> = %g"
            (formatDims small)
            (formatDims big)
            lhs
            rhs
    )

[<Property(Arbitrary = [| typeof<ShapeArbs> |], MaxTest = 300)>]
let ``expand and sumTo match the index model in float64 and float32`` (ExpandPair(small, big)) =
    let xs = Array.init (numel small) (fun i -> float (i + 1))
    let ys = Array.init (numel big) (fun i -> float (i % 7) - 3.0)
    let expectedExpand = Array.init (numel big) (fun k -> xs[sourceIndex small big k])
    let expectedSum = Array.zeroCreate (numel small)

    for k in 0 .. numel big - 1 do
        let i = sourceIndex small big k
        expectedSum[i] <- expectedSum[i] + ys[k]

    // Small integers: every sum is exact in both dtypes.
    [ tensorOf, tensorOf; tensor32Of, tensor32Of ]
    |> List.forall (fun (makeSmall, makeBig) ->
        let e = Tensor.expand (Shape.Of big) (makeSmall small xs)
        let s = Tensor.sumTo (Shape.Of small) (makeBig big ys)
        e.ToArray() = expectedExpand && s.ToArray() = expectedSum)
    |> Prop.label (sprintf "small=%s big=%s" (formatDims small) (formatDims big))

[<Property(Arbitrary = [| typeof<ShapeArbs> |], MaxTest = 200)>]
let ``broadcastsTo accepts every derived shape and expand refuses the reverse direction``
    (ExpandPair(small, big))
    =
    let grows = numel big > numel small

    let refused =
        try
            Tensor.expand (Shape.Of small) (tensorOf big (valuesFor big 0.0)) |> ignore
            false
        with :? ShapeMismatchException as e ->
            e.Operation = "expand"

    (Shape.broadcastsTo (Shape.Of small) (Shape.Of big) && (not grows || refused))
    |> Prop.label (sprintf "small=%s big=%s" (formatDims small) (formatDims big))
