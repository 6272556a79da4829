/// Numerics at the edges as properties over the functional core (README "Guarantees"): the tails of
/// sigmoid and softplus, divide with huge operands, clipping, in float32 and float64.
module TinyTorch.Properties.NumericsProperties

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch
open TinyTorch.Functional

let private dtypes = Gen.elements [ DType.Float32; DType.Float64 ]

/// Magnitudes from 1e-3 to 1e3 on a log scale, in both signs: far into both tails of sigmoid.
let private wide =
    gen {
        let! exponent = Gen.choose (-3000, 3000)
        let! negative = Gen.elements [ false; true ]
        let v = Math.Pow(10.0, float exponent / 1000.0)
        return if negative then -v else v
    }

let private valueAndGradient (dtype: DType) (f: Node -> Node) (x: float) =
    let leaf = Node.leaf (Tensor.Scalar(x, dtype))
    let y = f leaf
    let grads = Reverse.gradients y
    y.Value.Item(), grads[leaf].Value.Item()

[<Property(MaxTest = 500)>]
let ``sigmoid's gradient is even bitwise, finite, in [0, 0.25] and never NaN, in both dtypes`` () =
    Prop.forAll (Arb.fromGen (Gen.zip dtypes wide)) (fun (dtype, x) ->
        let value, g = valueAndGradient dtype Node.sigmoid x
        let _, gMinus = valueAndGradient dtype Node.sigmoid -x
        (BitConverter.DoubleToInt64Bits g = BitConverter.DoubleToInt64Bits gMinus
         && g >= 0.0 && g <= 0.25 && value >= 0.0 && value <= 1.0)
        |> Prop.label (sprintf "%O x=%g σ=%g σ'(x)=%g σ'(-x)=%g" dtype x value g gMinus))

[<Property(MaxTest = 500)>]
let ``sigmoid's gradient is positive wherever its true value is a normal number of the dtype`` () =
    Prop.forAll (Arb.fromGen (Gen.zip dtypes wide)) (fun (dtype, x) ->
        let _, g = valueAndGradient dtype Node.sigmoid x
        // σ'(x) ≈ e^−|x|: normal in float32 up to |x| ≈ 87, in float64 up to ≈ 708.
        let limit = if dtype = DType.Float32 then 80.0 else 700.0
        (abs x > limit || g > 0.0) |> Prop.label (sprintf "%O x=%g σ'=%g" dtype x g))

[<Property(MaxTest = 500)>]
let ``softplus is finite, at least max(x, 0), with gradient sigmoid(x), in both dtypes`` () =
    Prop.forAll (Arb.fromGen (Gen.zip dtypes wide)) (fun (dtype, x) ->
        let value, g = valueAndGradient dtype Node.softplus x
        let sigmoid, _ = valueAndGradient dtype Node.sigmoid x
        let tolerance = if dtype = DType.Float32 then 1e-6 else 1e-14
        (Double.IsFinite value && value >= max x 0.0 - tolerance * abs x
         && abs (g - sigmoid) <= tolerance * max sigmoid 1e-300 + 1e-300)
        |> Prop.label (sprintf "%O x=%g softplus=%g grad=%g σ=%g" dtype x value g sigmoid))

[<Property(MaxTest = 300)>]
let ``divide's gradients stay finite and accurate for operands up to the largest float32`` () =
    let big = gen {
        let! e = Gen.choose (0, 38000)
        let! m = Gen.choose (1000, 3400)
        return float m / 1000.0 * Math.Pow(10.0, float e / 1000.0) }
    Prop.forAll (Arb.fromGen (Gen.zip big big)) (fun (a, b) ->
        let na = Node.leaf (Tensor.Scalar(a, DType.Float32))
        let nb = Node.leaf (Tensor.Scalar(b, DType.Float32))
        let y = Node.divide na nb
        let grads = Reverse.gradients y
        let ga, gb = grads[na].Value.Item(), grads[nb].Value.Item()
        let a32, b32 = float (float32 a), float (float32 b)
        let expectedA, expectedB = 1.0 / b32, -(a32 / b32) / b32
        let close expected actual =
            // Below float32's normal range the result may be subnormal or 0: then only finiteness is required.
            abs expected < 1e-37 || abs (actual - expected) <= 1e-5 * abs expected
        (Double.IsFinite ga && Double.IsFinite gb && close expectedA ga && close expectedB gb)
        |> Prop.label (sprintf "a=%g b=%g d/da=%g (%g) d/db=%g (%g)" a32 b32 ga expectedA gb expectedB))

/// 0-d values with the IEEE special cases over-represented: both zeros, infinities, NaN, tiny and huge.
let private specialOrAny =
    Gen.oneof [ Gen.elements [ 0.0; -0.0; Double.PositiveInfinity; Double.NegativeInfinity; Double.NaN; Double.Epsilon; -Double.Epsilon; 1e308; -1.5 ]
                wide ]

[<Property(MaxTest = 500)>]
let ``addsNothing holds exactly when zero + g is g bit for bit, for a zero of either sign`` () =
    // The reverse engine's accumulation keeps g itself when this says so (a first-order pass into a zeroed gradient).
    Prop.forAll (Arb.fromGen (Gen.zip3 dtypes (Gen.elements [ 0.0; -0.0 ]) specialOrAny)) (fun (dtype, z, g) ->
        let zero, gradient = Tensor.Scalar(z, dtype), Tensor.Scalar(g, dtype)
        let sumBits = BitConverter.DoubleToInt64Bits((Tensor.add zero gradient).Item())
        let gBits = BitConverter.DoubleToInt64Bits(gradient.Item())
        let identity = sumBits = gBits || (Double.IsNaN g) // NaN payloads aside, any NaN stays NaN
        (Tensor.addsNothing zero gradient = identity)
        |> Prop.label (sprintf "%O %g + %g: addsNothing=%b, identity=%b" dtype z g (Tensor.addsNothing zero gradient) identity))

[<Fact>]
let ``addsNothing is false for anything but a 0-d zero of g's dtype`` () =
    let g = Tensor.Scalar(2.5, DType.Float64)
    Assert.False(Tensor.addsNothing (Tensor.Scalar(1.0, DType.Float64)) g)
    Assert.False(Tensor.addsNothing (Tensor.Scalar(0.0, DType.Float32)) g)
    Assert.False(Tensor.addsNothing (Tensor.Zeros(Shape.Of 3, DType.Float64)) (Tensor.Ones(Shape.Of 3, DType.Float64)))
    Assert.True(Tensor.addsNothing (Tensor.Scalar(0.0, DType.Float64)) g)
