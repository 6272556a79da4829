/// The GEMM kernel against a plain float64 triple loop: every transpose combination, sizes on both
/// sides of every vector width, register tile and cache block, nonzero offsets, C pre-filled with
/// garbage and nothing written outside C.
module TinyTorch.Properties.GemmTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch.Functional

/// Below, at and above the vector widths (8, 16), the register tiles (8 × 32, 8 × 16) and the
/// blocks (KC = 256, MC = 96 / 128).
let private sizes = [| 0; 1; 2; 3; 7; 8; 9; 15; 16; 17; 31; 32; 33; 63; 64; 65; 100; 257 |]

/// One product: op(A) is M×K, op(B) is K×N; each matrix starts at its offset inside its array.
type GemmCase =
    { TransA: bool
      TransB: bool
      M: int
      N: int
      K: int
      AOffset: int
      BOffset: int
      COffset: int
      Seed: int }

/// op(A)·op(B) accumulated in float64, with Σ_k |a·b| per element (the scale of the rounding error).
let private reference (c: GemmCase) (a: float[]) (b: float[]) =
    let value = Array.zeroCreate (c.M * c.N)
    let scale = Array.zeroCreate (c.M * c.N)

    // op(A)[i, p] = a[aOffset + i·ai + p·ap] and op(B)[p, j] = b[bOffset + p·bp + j·bj].
    let ai, ap = if c.TransA then 1, c.M else c.K, 1
    let bp, bj = if c.TransB then 1, c.K else c.N, 1

    for i in 0 .. c.M - 1 do
        for j in 0 .. c.N - 1 do
            let mutable s = 0.0
            let mutable t = 0.0
            let mutable x = c.AOffset + i * ai
            let mutable y = c.BOffset + j * bj

            for _ in 1 .. c.K do
                let product = a[x] * b[y]
                s <- s + product
                t <- t + abs product
                x <- x + ap
                y <- y + bp

            value[i * c.N + j] <- s
            scale[i * c.N + j] <- t

    value, scale

/// An operand array: count float32-representable values in [-1, 1] at the offset, NaN around them
/// (so a read outside the matrix poisons the result).
let private operand (rng: Random) (offset: int) (count: int) =
    Array.init (offset + count + 3) (fun i ->
        if i >= offset && i < offset + count then
            float (float32 (rng.NextDouble() * 2.0 - 1.0))
        else
            nan)

let private outside = -7.0

/// Runs one case through gemm32 (single) or gemm64 and describes the first mismatch, if any.
let private check (single: bool) (c: GemmCase) : string option =
    let rng = Random(c.Seed)
    let a = operand rng c.AOffset (c.M * c.K)
    let b = operand rng c.BOffset (c.K * c.N)
    let expected, scale = reference c a b
    let size = c.COffset + c.M * c.N + 3
    let inside i = i >= c.COffset && i < c.COffset + c.M * c.N
    // C starts as garbage inside the product and a sentinel outside it.
    let initial =
        Array.init size (fun i -> if not (inside i) then outside elif i % 2 = 0 then nan else 1e30)

    let result =
        if single then
            let c32 = Array.map float32 initial
            let a32 = Array.map float32 a
            let b32 = Array.map float32 b
            Gemm.gemm32 c.TransA c.TransB c.M c.N c.K a32 c.AOffset b32 c.BOffset c32 c.COffset
            Array.map float c32
        else
            let c64 = Array.copy initial
            Gemm.gemm64 c.TransA c.TransB c.M c.N c.K a c.AOffset b c.BOffset c64 c.COffset
            c64

    let tolerance = if single then 1e-4 else 1e-12

    seq { 0 .. size - 1 }
    |> Seq.tryPick (fun i ->
        if inside i then
            let e = expected[i - c.COffset]
            let err = abs (result[i] - e)

            if err <= tolerance * (1.0 + scale[i - c.COffset]) then
                None
            else
                let name = if single then "gemm32" else "gemm64"
                Some(sprintf "%s %A: C[%d] = %g, expected %g" name c (i - c.COffset) result[i] e)
        elif result[i] <> outside then
            Some(sprintf "%A: wrote outside C at array index %d" c i)
        else
            None)

/// Every (m, n, k) from the sizes with m·n·k up to a million, plus products that cross the KC, MC
/// and NC blocks (NC = 2048 for float32, 1024 for float64) several times.
let private sweepCases (transA: bool) (transB: bool) =
    [ for m in sizes do
          for n in sizes do
              for k in sizes do
                  if m * n * k <= 1_000_000 then
                      yield m, n, k
      yield 257, 257, 257
      yield 9, 2100, 300
      yield 130, 1030, 513 ]
    |> List.map (fun (m, n, k) ->
        { TransA = transA
          TransB = transB
          M = m
          N = n
          K = k
          AOffset = (m + 2 * n + 3 * k) % 5
          BOffset = (3 * m + n + k) % 7
          COffset = (m + n + 5 * k) % 3
          Seed = m * 1_000_003 + n * 1009 + k })

let private sweep (single: bool) (transA: bool) (transB: bool) =
    let cases = sweepCases transA transB
    let failures = cases |> List.choose (check single)

    let shown = failures |> List.truncate 10 |> String.concat "\n"
    let summary = sprintf "%d of %d cases failed:\n%s" failures.Length cases.Length shown
    Assert.True(List.isEmpty failures, summary)

[<Theory>]
[<InlineData(false, false)>]
[<InlineData(false, true)>]
[<InlineData(true, false)>]
[<InlineData(true, true)>]
let ``gemm32 matches the float64 reference over the size sweep`` (transA: bool) (transB: bool) =
    sweep true transA transB

[<Theory>]
[<InlineData(false, false)>]
[<InlineData(false, true)>]
[<InlineData(true, false)>]
[<InlineData(true, true)>]
let ``gemm64 matches the float64 reference over the size sweep`` (transA: bool) (transB: bool) =
    sweep false transA transB

let private caseGen =
    gen {
        let! transA = Gen.elements [ false; true ]
        let! transB = Gen.elements [ false; true ]
        let! m = Gen.elements sizes
        let! n = Gen.elements sizes
        let! k = Gen.elements sizes
        let! aOffset = Gen.choose (0, 40)
        let! bOffset = Gen.choose (0, 40)
        let! cOffset = Gen.choose (0, 40)
        let! seed = Gen.choose (0, Int32.MaxValue)

        return
            { TransA = transA
              TransB = transB
              M = m
              N = n
              K = k
              AOffset = aOffset
              BOffset = bOffset
              COffset = cOffset
              Seed = seed }
    }

[<Property(MaxTest = 300)>]
let ``gemm32 and gemm64 match the reference on random sizes, transposes and offsets`` () =
    Prop.forAll (Arb.fromGen caseGen) (fun c ->
        let failures = List.choose id [ check true c; check false c ]
        List.isEmpty failures |> Prop.label (String.concat "\n" failures))

[<Fact>]
let ``C is overwritten, not accumulated, and k = 0 gives zeros`` () =
    // op(A) = [[1, 2], [3, 4]], op(B) = [[5, 6], [7, 8]]: op(A)·op(B) = [[19, 22], [43, 50]].
    let stored (values: float[]) transposed =
        if transposed then [| values[0]; values[2]; values[1]; values[3] |] else values

    for transA in [ false; true ] do
        for transB in [ false; true ] do
            let a = stored [| 1.0; 2.0; 3.0; 4.0 |] transA
            let b = stored [| 5.0; 6.0; 7.0; 8.0 |] transB
            let c64 = [| nan; 1e300; -1e300; infinity |]
            Gemm.gemm64 transA transB 2 2 2 a 0 b 0 c64 0
            Assert.Equal<float[]>([| 19.0; 22.0; 43.0; 50.0 |], c64)
            let c32 = [| nanf; 1e30f; -1e30f; infinityf |]
            Gemm.gemm32 transA transB 2 2 2 (Array.map float32 a) 0 (Array.map float32 b) 0 c32 0
            Assert.Equal<float32[]>([| 19.0f; 22.0f; 43.0f; 50.0f |], c32)
            // Calling again gives the same result, not twice it.
            Gemm.gemm32 transA transB 2 2 2 (Array.map float32 a) 0 (Array.map float32 b) 0 c32 0
            Assert.Equal<float32[]>([| 19.0f; 22.0f; 43.0f; 50.0f |], c32)

    let zeros64 = [| 9.0; nan; 1.0; 2.0; 3.0; 4.0; 9.0 |]
    Gemm.gemm64 false false 2 3 0 [||] 0 [||] 0 zeros64 1
    Assert.Equal<float[]>([| 9.0; 0.0; 0.0; 0.0; 0.0; 0.0; 0.0 |], zeros64)
    let zeros32 = [| nanf; 1.0f; 2.0f; 3.0f |]
    Gemm.gemm32 true true 3 1 0 [||] 0 [||] 0 zeros32 1
    Assert.Equal<float32[]>([| nanf; 0.0f; 0.0f; 0.0f |], zeros32)

[<Fact>]
let ``an empty product (m = 0 or n = 0) leaves C untouched`` () =
    let c = [| 1.0; 2.0 |]
    Gemm.gemm64 false false 0 2 3 [||] 0 (Array.zeroCreate 6) 0 c 0
    Gemm.gemm64 true false 2 0 3 (Array.zeroCreate 6) 0 [||] 0 c 0
    Assert.Equal<float[]>([| 1.0; 2.0 |], c)
