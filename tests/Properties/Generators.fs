/// Generators shared by the property tests: small shapes, broadcast-compatible and incompatible
/// shape pairs, per-op value domains that keep a margin from every kink and domain edge, and
/// tensor helpers. Inputs are drawn on a fine grid so that kinks are never hit by accident.
module TinyTorch.Properties.Generators

open System
open FsCheck
open FsCheck.FSharp
open TinyTorch

/// A float in [lo, hi] on a grid of (hi − lo) / 1e6.
let floatIn (lo: float) (hi: float) : Gen<float> =
    Gen.choose (0, 1_000_000) |> Gen.map (fun i -> lo + (hi - lo) * float i / 1e6)

/// The magnitude from <paramref name="magnitude"/> with a random sign.
let signed (magnitude: Gen<float>) : Gen<float> =
    Gen.map2 (fun m positive -> if positive then m else -m) magnitude (Gen.elements [ true; false ])

/// Number of elements of a shape given as dimensions.
let numel (dims: int[]) = Array.fold (*) 1 dims

/// Shapes of rank 0–3 with every dimension in 1–4 (at most 64 elements).
let shapeGen: Gen<int[]> =
    gen {
        let! rank = Gen.choose (0, 3)
        return! Gen.arrayOfLength rank (Gen.choose (1, 4))
    }

/// A shape that broadcasts to <paramref name="target"/>: some leading dimensions dropped and some
/// of the rest set to 1.
let broadcastableTo (target: int[]) : Gen<int[]> =
    gen {
        let! drop = Gen.choose (0, target.Length)
        let kept = target[drop..]
        let! ones =
            Gen.arrayOfLength kept.Length (Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ])
        return Array.map2 (fun d one -> if one then 1 else d) kept ones
    }

/// Two shapes that broadcast together: both derived from one result shape.
let broadcastPairGen: Gen<int[] * int[]> =
    gen {
        let! out = shapeGen
        let! a = broadcastableTo out
        let! b = broadcastableTo out
        return a, b
    }

/// Two shapes that must be rejected: equal except one aligned dimension with two different
/// sizes, both at least 2; then possibly some leading dimensions dropped from one of them (the
/// clashing dimension is always kept).
let incompatiblePairGen: Gen<int[] * int[]> =
    gen {
        let! rank = Gen.choose (1, 3)
        let! s = Gen.arrayOfLength rank (Gen.choose (1, 4))
        let! i = Gen.choose (0, rank - 1)
        let! d1 = Gen.choose (2, 4)
        let! d2 = Gen.elements ([ 2; 3; 4 ] |> List.filter ((<>) d1))
        let a = Array.updateAt i d1 s
        let b = Array.updateAt i d2 s
        let! dropA = Gen.choose (0, i)
        let! dropB = Gen.choose (0, i)
        return a[dropA..], b[dropB..]
    }

/// Where the values of one operand are drawn from.
type Domain =
    /// Uniform on [lo, hi] (grid of (hi − lo) / 1e6).
    | Interval of lo: float * hi: float
    /// kink ± [margin, radius]: never within <c>margin</c> of the kink.
    | AwayFrom of kink: float * margin: float * radius: float
    /// Multiples of 2^−bits in [lo, hi]: exactly representable in float32, and so are x ± 2^−bits.
    | Dyadic of bits: int * lo: float * hi: float
    /// offset + spacing·k + u for an integer k with the lattice point in [lo, hi] and |u| ≤ jitter.
    /// Two lattices offset by half a spacing keep every pair of values at least
    /// spacing/2 − 2·jitter apart (maximum/minimum operands, huber input and target).
    | Lattice of spacing: float * offset: float * jitter: float * lo: float * hi: float
    /// [lo, hi] minus the margin around each kink (clamp's two bounds): a uniformly chosen gap
    /// between kinks, then uniform within it.
    | Avoiding of kinks: float list * margin: float * lo: float * hi: float
    /// A whole tensor at once: its n values are a random permutation of spacing·(k − (n − 1)/2),
    /// k = 0 … n − 1, each moved by at most jitter, so any two values differ by at least
    /// spacing − 2·jitter (a unique maximum and minimum along every axis, and a variance away from 0).
    | Distinct of spacing: float * jitter: float

/// The allowed sub-intervals of an Avoiding domain.
let private gaps (kinks: float list) (margin: float) (lo: float) (hi: float) : (float * float) list =
    let cuts = kinks |> List.sort
    let lows = lo :: (cuts |> List.map (fun k -> k + margin))
    let highs = (cuts |> List.map (fun k -> k - margin)) @ [ hi ]
    List.zip lows highs |> List.filter (fun (a, b) -> b > a)

/// Values of a per-element domain (Distinct is a whole-tensor domain: see domainArrayGen).
let domainGen (domain: Domain) : Gen<float> =
    match domain with
    | Interval(lo, hi) -> floatIn lo hi
    | AwayFrom(kink, margin, radius) -> signed (floatIn margin radius) |> Gen.map (fun d -> kink + d)
    | Dyadic(bits, lo, hi) ->
        let scale = 2.0 ** float bits
        Gen.choose (int (ceil (lo * scale)), int (floor (hi * scale))) |> Gen.map (fun i -> float i / scale)
    | Lattice(spacing, offset, jitter, lo, hi) ->
        let first = int (ceil ((lo - offset) / spacing))
        let last = int (floor ((hi - offset) / spacing))
        Gen.map2 (fun k u -> offset + spacing * float k + u) (Gen.choose (first, last)) (floatIn -jitter jitter)
    | Avoiding(kinks, margin, lo, hi) ->
        // Each gap equally likely (not by length), so the short middle gap of a clamp is sampled often.
        gaps kinks margin lo hi |> List.map (fun (a, b) -> floatIn a b) |> Gen.oneof
    | Distinct _ -> invalidArg "domain" "Distinct describes a whole tensor; use domainArrayGen."

/// n values of a domain: independent draws, or for Distinct a jittered permutation of a grid.
let domainArrayGen (domain: Domain) (n: int) : Gen<float[]> =
    match domain with
    | Distinct(spacing, jitter) ->
        gen {
            let! order = Gen.shuffle [ 0 .. n - 1 ]
            let! jitters = Gen.arrayOfLength n (floatIn -jitter jitter)
            return Array.init n (fun i -> spacing * (float order[i] - float (n - 1) / 2.0) + jitters[i])
        }
    | _ -> Gen.arrayOfLength n (domainGen domain)

/// Whether <paramref name="x"/> lies in the domain (used to test the generators themselves).
let inDomain (domain: Domain) (x: float) : bool =
    match domain with
    | Interval(lo, hi) -> lo <= x && x <= hi
    | AwayFrom(kink, margin, radius) ->
        let d = abs (x - kink)
        margin - 1e-12 <= d && d <= radius + 1e-12
    | Dyadic(bits, lo, hi) ->
        let scaled = x * 2.0 ** float bits
        lo <= x && x <= hi && scaled = Math.Round scaled && float (float32 x) = x
    | Lattice(spacing, offset, jitter, lo, hi) ->
        let k = Math.Round((x - offset) / spacing)
        let point = offset + spacing * k
        lo - 1e-12 <= point && point <= hi + 1e-12 && abs (x - point) <= jitter + 1e-12
    | Avoiding(kinks, margin, lo, hi) ->
        lo <= x && x <= hi && kinks |> List.forall (fun k -> abs (x - k) >= margin - 1e-12)
    | Distinct(spacing, jitter) ->
        // Per element: the grid of any size is unbounded, so only the magnitude is limited here;
        // inDomainArray checks the pairwise separation.
        Double.IsFinite x && abs x <= spacing * 64.0 + jitter

/// Whether a whole tensor's values lie in the domain (for Distinct: pairwise separation too).
let inDomainArray (domain: Domain) (xs: float[]) : bool =
    Array.forall (inDomain domain) xs
    && (match domain with
        | Distinct(spacing, jitter) ->
            let sorted = Array.sort xs
            Seq.forall (fun i -> sorted[i + 1] - sorted[i] >= spacing - 2.0 * jitter - 1e-12) (seq { 0 .. xs.Length - 2 })
        | _ -> true)

/// A simple point of the domain, used by shrinkers (so every shrunk case stays valid).
let canonical (domain: Domain) : float =
    match domain with
    | Interval(lo, hi) -> if lo <= 1.0 && 1.0 <= hi then 1.0 else lo
    | AwayFrom(kink, _, radius) -> kink + radius / 2.0
    | Dyadic(_, lo, hi) -> if lo <= 0.5 && 0.5 <= hi then 0.5 else lo
    | Lattice(spacing, offset, _, lo, hi) ->
        let k = Math.Round((0.5 * (lo + hi) - offset) / spacing)
        offset + spacing * k
    | Avoiding(kinks, margin, lo, hi) ->
        let a, b = gaps kinks margin lo hi |> List.maxBy (fun (a, b) -> b - a)
        0.5 * (a + b)
    | Distinct _ -> 0.0

/// A simple tensor of the domain, used by shrinkers: the canonical point repeated, or for
/// Distinct the sorted grid (still pairwise separated).
let canonicalArray (domain: Domain) (n: int) : float[] =
    match domain with
    | Distinct(spacing, _) -> Array.init n (fun i -> spacing * (float i - float (n - 1) / 2.0))
    | _ -> Array.create n (canonical domain)

/// A float64 tensor of the given dimensions.
let tensorOf (dims: int[]) (values: float[]) : Tensor = Tensor.FromArray(values, dims)

/// A float32 tensor of the given dimensions (values rounded to float32).
let tensor32Of (dims: int[]) (values: float[]) : Tensor = Tensor.FromArray(Array.map float32 values, dims)

/// Values in [−1, 1] of the given shape (float64).
let tensorGen (dims: int[]) : Gen<Tensor> =
    Gen.arrayOfLength (numel dims) (floatIn -1.0 1.0) |> Gen.map (tensorOf dims)

/// Dimensions as a wrapper type, so FsCheck uses our generator.
type Dims = Dims of int[]

/// A broadcast-compatible pair of shapes.
type BroadcastPair = BroadcastPair of int[] * int[]

/// A pair of shapes that do not broadcast together.
type IncompatiblePair = IncompatiblePair of int[] * int[]

/// A shape and a smaller shape that broadcasts to it (<c>Small</c> → <c>Big</c>).
type ExpandPair = ExpandPair of small: int[] * big: int[]

/// Shrinks a shape: lower the rank, then set dimensions to 1.
let shrinkDims (s: int[]) : seq<int[]> =
    seq {
        if s.Length > 0 then yield s[1..]

        for i in 0 .. s.Length - 1 do
            if s[i] > 1 then yield Array.updateAt i 1 s
    }

/// Arbitraries for the shape wrapper types.
type ShapeArbs =
    static member Dims() : Arbitrary<Dims> =
        Arb.fromGenShrink (shapeGen |> Gen.map Dims, fun (Dims s) -> shrinkDims s |> Seq.map Dims)

    static member BroadcastPair() : Arbitrary<BroadcastPair> =
        Arb.fromGen (broadcastPairGen |> Gen.map BroadcastPair)

    static member IncompatiblePair() : Arbitrary<IncompatiblePair> =
        Arb.fromGen (incompatiblePairGen |> Gen.map IncompatiblePair)

    static member ExpandPair() : Arbitrary<ExpandPair> =
        gen {
            let! big = shapeGen
            let! small = broadcastableTo big
            return ExpandPair(small, big)
        }
        |> Arb.fromGen

/// Inner product of two tensors of the same size, in float64.
let dot (a: Tensor) (b: Tensor) : float =
    let mutable s = 0.0

    for i in 0 .. a.Size - 1 do
        s <- s + a.GetFlat i * b.GetFlat i

    s

/// |a − b| ≤ atol + rtol·|b| elementwise, and the same shape.
let allClose (atol: float) (rtol: float) (actual: Tensor) (expected: Tensor) : bool =
    actual.Shape.Equals expected.Shape
    && Seq.forall
        (fun i -> abs (actual.GetFlat i - expected.GetFlat i) <= atol + rtol * abs (expected.GetFlat i))
        (seq { 0 .. actual.Size - 1 })

/// Same shape, same dtype and bitwise-equal elements.
let bitwiseEqual (a: Tensor) (b: Tensor) : bool =
    a.Shape.Equals b.Shape
    && a.DType = b.DType
    && Seq.forall
        (fun i -> BitConverter.DoubleToInt64Bits(a.GetFlat i) = BitConverter.DoubleToInt64Bits(b.GetFlat i))
        (seq { 0 .. a.Size - 1 })

/// Shape as the library prints it, e.g. <c>[2, 3]</c>.
let formatDims (dims: int[]) = "[" + String.Join(", ", dims) + "]"
