namespace TinyTorch.Functional.Testing

open System
open System.Globalization

/// Where generated values come from: the part of an op's domain where central differences are
/// trustworthy, i.e. away from kinks and domain edges by far more than the step (1e-6).
[<RequireQualifiedAccess>]
type Domain =
    /// Any value in [−3, 3]: for functions smooth everywhere (tanh, sin, exp, polynomials).
    | Any
    /// [0.1, 3]: for log, sqrt, reciprocals, powers with a real exponent.
    | Positive
    /// Either sign with |x| in [margin, margin + 3]: for relu, abs, and denominators (kink or pole at 0).
    | AwayFromZero of margin: float
    /// [lo, hi].
    | Interval of lo: float * hi: float

    /// The smallest and largest value the domain can produce.
    member d.Bounds: struct (float * float) =
        match d with
        | Any -> struct (-3.0, 3.0)
        | Positive -> struct (0.1, 3.0)
        | AwayFromZero margin -> struct (-(margin + 3.0), margin + 3.0)
        | Interval(lo, hi) -> struct (lo, hi)

    /// Whether <paramref name="x"/> lies in the domain.
    member d.Contains(x: float) : bool =
        match d with
        | Any -> -3.0 <= x && x <= 3.0
        | Positive -> 0.1 <= x && x <= 3.0
        | AwayFromZero margin -> margin <= abs x && abs x <= margin + 3.0
        | Interval(lo, hi) -> lo <= x && x <= hi

    /// The simplest value of the domain, the target of shrinking: 0 or 1 when allowed, else the
    /// integer nearest to 0, else the lower end.
    member d.Simplest: float =
        let candidates = [ 0.0; 1.0; -1.0; 2.0; -2.0; 3.0; -3.0 ]

        match List.tryFind d.Contains candidates with
        | Some c -> c
        | None ->
            match d with
            | AwayFromZero margin -> Math.Ceiling margin
            | Interval(lo, hi) -> if Math.Ceiling lo <= hi then Math.Ceiling lo else lo
            | _ -> 1.0

    /// Throws <see cref="ArgumentException"/> when the domain is empty or not finite.
    member d.Validate() : unit =
        match d with
        | AwayFromZero margin when not (Double.IsFinite margin && margin > 0.0) ->
            raise (ArgumentException(sprintf "Domain.AwayFromZero: the margin must be a positive finite number, but is %g." margin, "domain"))
        | Interval(lo, hi) when not (Double.IsFinite lo && Double.IsFinite hi && lo < hi) ->
            raise (ArgumentException(sprintf "Domain.Interval: needs finite lo < hi, but got [%g, %g]." lo hi, "domain"))
        | _ -> ()

    /// [lo, hi] (for C#: <c>Domain.Between(-1, 1)</c>).
    static member Between(lo: float, hi: float) : Domain = Interval(lo, hi)

    /// Either sign with |x| in [margin, margin + 3] (for C#: <c>Domain.AwayFrom(0.1)</c>).
    static member AwayFrom(margin: float) : Domain = AwayFromZero margin

    /// E.g. <c>AwayFromZero 0.1 (|x| in [0.1, 3.1])</c>.
    override d.ToString() =
        let struct (lo, hi) = d.Bounds
        let text (x: float) = x.ToString("G6", CultureInfo.InvariantCulture)

        match d with
        | Any -> sprintf "Any [%s, %s]" (text lo) (text hi)
        | Positive -> sprintf "Positive [%s, %s]" (text 0.1) (text hi)
        | AwayFromZero margin -> sprintf "AwayFromZero %s (|x| in [%s, %s])" (text margin) (text margin) (text hi)
        | Interval _ -> sprintf "Interval [%s, %s]" (text lo) (text hi)

/// A pair of shapes that broadcast together (NumPy rules).
[<StructuredFormatDisplay("{Description}")>]
type BroadcastPair =
    {
        /// The first shape.
        Left: TinyTorch.Shape
        /// The second shape.
        Right: TinyTorch.Shape
    }

    /// The broadcast result shape.
    member p.Result: TinyTorch.Shape = TinyTorch.Shape.broadcast "broadcast" p.Left p.Right

    /// E.g. <c>[2, 1] with [3]</c> (also how FsCheck prints the pair).
    member p.Description = sprintf "%O with %O" p.Left p.Right

    /// E.g. <c>[2, 1] with [3]</c>.
    override p.ToString() = p.Description

/// A pair of shapes that do not broadcast together: some aligned dimension has two sizes, both at least 2.
[<StructuredFormatDisplay("{Description}")>]
type IncompatiblePair =
    {
        /// The first shape.
        Left: TinyTorch.Shape
        /// The second shape.
        Right: TinyTorch.Shape
    }

    /// E.g. <c>[2, 3] with [4, 3]</c> (also how FsCheck prints the pair).
    member p.Description = sprintf "%O with %O" p.Left p.Right

    /// E.g. <c>[2, 3] with [4, 3]</c>.
    override p.ToString() = p.Description
