namespace TinyTorch.Functional.Testing

open System
open FsCheck
open FsCheck.FSharp
open TinyTorch

/// FsCheck generators for shapes, shape pairs, values of a domain and tensors. Values are drawn on a
/// fine grid (10⁶ steps across the domain), so a kink is never hit by accident.
[<RequireQualifiedAccess>]
module Generators =

    let private notNull (name: string) (x: 'T) =
        if isNull (box x) then raise (ArgumentNullException(name))
        x

    /// A float in [lo, hi] on a grid of (hi − lo) / 10⁶.
    let floatIn (lo: float) (hi: float) : Gen<float> =
        Gen.choose (0, 1_000_000) |> Gen.map (fun i -> lo + (hi - lo) * float i / 1e6)

    /// Values of a domain.
    let value (domain: Domain) : Gen<float> =
        domain.Validate()

        match domain with
        | Domain.Any -> floatIn -3.0 3.0
        | Domain.Positive -> floatIn 0.1 3.0
        | Domain.AwayFromZero margin ->
            Gen.map2 (fun m positive -> if positive then m else -m) (floatIn margin (margin + 3.0)) (Gen.elements [ true; false ])
        | Domain.Interval(lo, hi) -> floatIn lo hi

    /// <paramref name="count"/> independent values of a domain.
    let values (domain: Domain) (count: int) : Gen<float[]> = Gen.arrayOfLength count (value domain)

    /// Shapes of rank 0 … <paramref name="maxRank"/> with every dimension in 1 … <paramref name="maxDim"/>.
    let shapeWith (maxRank: int) (maxDim: int) : Gen<Shape> =
        if maxRank < 0 || maxDim < 1 then
            raise (ArgumentOutOfRangeException("maxRank", sprintf "shapeWith: needs maxRank ≥ 0 and maxDim ≥ 1, but got %d and %d." maxRank maxDim))

        gen {
            let! rank = Gen.choose (0, maxRank)
            let! dims = Gen.arrayOfLength rank (Gen.choose (1, maxDim))
            return Shape.Of dims
        }

    /// Shapes of rank 0–4 with every dimension in 1–4 (at most 256 elements).
    let shape: Gen<Shape> = shapeWith 4 4

    /// A shape that broadcasts to <paramref name="target"/>: some leading dimensions dropped and some
    /// of the rest set to 1.
    let broadcastableTo (target: Shape) : Gen<Shape> =
        let target = target.ToArray()

        gen {
            let! drop = Gen.choose (0, target.Length)
            let kept = target[drop..]
            let! ones = Gen.arrayOfLength kept.Length (Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ])
            return Shape.Of(Array.map2 (fun d one -> if one then 1 else d) kept ones)
        }

    /// Two shapes that broadcast together, both derived from one result shape of rank 0–4.
    let broadcastPair: Gen<BroadcastPair> =
        gen {
            let! result = shape
            let! left = broadcastableTo result
            let! right = broadcastableTo result
            return { Left = left; Right = right }
        }

    /// Two shapes that must be rejected by broadcasting: equal except one aligned dimension with two
    /// different sizes, both at least 2; then possibly some leading dimensions dropped from either
    /// (the clashing dimension is always kept).
    let incompatiblePair: Gen<IncompatiblePair> =
        gen {
            let! rank = Gen.choose (1, 4)
            let! s = Gen.arrayOfLength rank (Gen.choose (1, 4))
            let! i = Gen.choose (0, rank - 1)
            let! d1 = Gen.choose (2, 4)
            let! d2 = Gen.elements ([ 2; 3; 4 ] |> List.filter ((<>) d1))
            let! dropLeft = Gen.choose (0, i)
            let! dropRight = Gen.choose (0, i)

            return
                { Left = Shape.Of((Array.updateAt i d1 s)[dropLeft..])
                  Right = Shape.Of((Array.updateAt i d2 s)[dropRight..]) }
        }

    /// A float64 tensor of the given shape with values from the domain.
    let tensorOfShape (domain: Domain) (shape: Shape) : Gen<Tensor> =
        let shape = notNull "shape" shape
        values domain shape.Size |> Gen.map (fun xs -> Tensor.FromArray(xs, shape.ToArray()))

    /// A float64 tensor of a random shape (<see cref="shape"/>) with values from the domain.
    let tensor (domain: Domain) : Gen<Tensor> = shape |> Gen.bind (tensorOfShape domain)

    /// <paramref name="arity"/> float64 tensors of one shape drawn from <paramref name="shapes"/>, values from the domain.
    let inputsWith (shapes: Gen<Shape>) (domain: Domain) (arity: int) : Gen<Tensor[]> =
        if arity < 0 then raise (ArgumentOutOfRangeException("arity", arity, "inputs: arity must be 0 or more."))
        shapes |> Gen.bind (fun s -> Gen.arrayOfLength arity (tensorOfShape domain s))

    /// <paramref name="arity"/> float64 tensors of one random shape (rank 0–3, dimensions 1–3: at most
    /// 27 elements each, which keeps element-by-element gradient checks fast), values from the domain.
    let inputs (domain: Domain) (arity: int) : Gen<Tensor[]> = inputsWith (shapeWith 3 3) domain arity

    /// One float64 tensor per given shape, values from the domain (for ops with shape rules of their
    /// own, e.g. matmul).
    let inputsOfShapes (domain: Domain) (shapes: Shape[]) : Gen<Tensor[]> =
        notNull "shapes" shapes |> Array.map (tensorOfShape domain) |> Array.toList |> Gen.sequenceToList |> Gen.map List.toArray

    /// Two float64 tensors whose shapes broadcast together, values from the domain.
    let broadcastInputs (domain: Domain) : Gen<Tensor[]> =
        broadcastPair |> Gen.bind (fun p -> inputsOfShapes domain [| p.Left; p.Right |])

/// Shrinkers that keep every candidate valid: shapes stay in range, pairs stay (in)compatible,
/// tensors keep a shape allowed by the property and values stay in their domain.
[<RequireQualifiedAccess>]
module Shrink =

    /// Lower the rank (drop the leading dimension), then set dimensions to 1.
    let shape (s: Shape) : seq<Shape> =
        let dims = s.ToArray()

        seq {
            if dims.Length > 0 then yield Shape.Of dims[1..]

            for i in 0 .. dims.Length - 1 do
                if dims[i] > 1 then yield Shape.Of(Array.updateAt i 1 dims)
        }

    let private broadcasts (a: Shape) (b: Shape) =
        let a, b = a.ToArray(), b.ToArray()
        let rank = max a.Length b.Length
        let at (s: int[]) i = if i < rank - s.Length then 1 else s[i - (rank - s.Length)]
        Seq.forall (fun i -> at a i = at b i || at a i = 1 || at b i = 1) (seq { 0 .. rank - 1 })

    /// Shrinks either shape of a compatible pair; every candidate still broadcasts.
    let broadcastPair (p: BroadcastPair) : seq<BroadcastPair> =
        seq {
            for l in shape p.Left -> { p with Left = l }
            for r in shape p.Right -> { p with Right = r }
        }
        |> Seq.filter (fun c -> broadcasts c.Left c.Right)

    /// Shrinks either shape of an incompatible pair; every candidate still clashes.
    let incompatiblePair (p: IncompatiblePair) : seq<IncompatiblePair> =
        seq {
            for l in shape p.Left -> { p with Left = l }
            for r in shape p.Right -> { p with Right = r }
        }
        |> Seq.filter (fun c -> not (broadcasts c.Left c.Right))

    /// Number of decimal digits a value needs (16 when it has no short decimal form).
    let private decimals (x: float) =
        seq { 0..15 } |> Seq.tryFind (fun k -> Math.Round(x, k) = x) |> Option.defaultValue 16

    /// Simpler values of the domain: the domain's simplest value, 0, ±1, and the value rounded to 0, 1
    /// or 2 decimals — each only when it lies in the domain and is strictly simpler (fewer decimals,
    /// or as many and closer to 0), so shrinking always terminates.
    let value (domain: Domain) (x: float) : seq<float> =
        let rank (v: float) = struct (decimals v, abs v)

        [ domain.Simplest; 0.0; 1.0; -1.0; Math.Round x; Math.Round(x, 1); Math.Round(x, 2) ]
        |> List.distinct
        |> List.filter (fun c -> c <> x && domain.Contains c && rank c < rank x)
        |> List.toSeq

    /// The sub-tensor of <paramref name="t"/> with a shape obtained by dropping leading dimensions and
    /// setting dimensions to 1 (index 0 is kept along each), so every value stays one of the originals.
    let restrict (t: Tensor) (target: Shape) : Tensor =
        let old = t.Shape.ToArray()
        let dims = target.ToArray()
        let offset = old.Length - dims.Length
        let values = t.ToArray()

        let flat (j: int) =
            let mutable rest = j
            let mutable index = 0
            let mutable stride = 1

            for d in dims.Length - 1 .. -1 .. 0 do
                let i = rest % dims[d]
                rest <- rest / dims[d]
                index <- index + i * stride
                stride <- stride * old[d + offset]

            index

        Tensor.FromArray(Array.init target.Size (fun j -> values[flat j]), dims)

    /// The same tensor with its values simplified, shape unchanged: first all at the domain's simplest
    /// value, then one element at a time.
    let values (domain: Domain) (t: Tensor) : seq<Tensor> =
        let xs = t.ToArray()
        let dims = t.Shape.ToArray()

        seq {
            let simplest = domain.Simplest

            if xs.Length > 1 && Array.exists (fun x -> x <> simplest) xs then
                yield Tensor.FromArray(Array.create xs.Length simplest, dims)

            for i in 0 .. xs.Length - 1 do
                for c in value domain xs[i] -> Tensor.FromArray(Array.updateAt i c xs, dims)
        }

    /// Smaller tensors (sub-tensors of smaller shapes), then simpler values.
    let tensor (domain: Domain) (t: Tensor) : seq<Tensor> =
        seq {
            for s in shape t.Shape -> restrict t s
            yield! values domain t
        }

    /// Shrinks a tuple of input tensors keeping <paramref name="valid"/> true for their shapes: all
    /// shapes shrunk together (when equal), then one tensor's shape at a time, then values.
    let inputsWhere (valid: Shape[] -> bool) (domain: Domain) (xs: Tensor[]) : seq<Tensor[]> =
        let shapes = xs |> Array.map (fun x -> x.Shape)

        seq {
            if xs.Length > 1 && shapes |> Array.forall (fun s -> s.Equals shapes[0]) then
                for s in shape shapes[0] do
                    if valid (Array.create xs.Length s) then yield xs |> Array.map (fun x -> restrict x s)

            for i in 0 .. xs.Length - 1 do
                for s in shape shapes[i] do
                    if valid (Array.updateAt i s shapes) then yield Array.updateAt i (restrict xs[i] s) xs

            for i in 0 .. xs.Length - 1 do
                for t in values domain xs[i] -> Array.updateAt i t xs
        }

    /// Inputs of one shared shape (from <see cref="Generators.inputs"/>): shape together, then values.
    let inputs (domain: Domain) (xs: Tensor[]) : seq<Tensor[]> =
        inputsWhere (fun shapes -> shapes |> Array.forall (fun s -> s.Equals shapes[0])) domain xs

    /// Inputs of fixed shapes: values only.
    let inputsOfShapes (domain: Domain) (xs: Tensor[]) : seq<Tensor[]> = inputsWhere (fun _ -> false) domain xs

    /// Two tensors whose shapes broadcast together: each shape shrunk while they stay compatible, then values.
    let broadcastInputs (domain: Domain) (xs: Tensor[]) : seq<Tensor[]> =
        inputsWhere (fun shapes -> shapes.Length <> 2 || broadcasts shapes[0] shapes[1]) domain xs
