namespace TinyTorch.Functional

/// The one GEMM kernel module: every matrix product in the library goes through here.
/// (Temporary reference version in this branch; replaced by the blocked kernel.)
[<RequireQualifiedAccess>]
module internal Gemm =
    let inline private gemm (transA: bool) (transB: bool) (m: int) (n: int) (k: int) (a: ^T[]) (aOffset: int) (b: ^T[]) (bOffset: int) (c: ^T[]) (cOffset: int) =
        for i in 0 .. m - 1 do
            for j in 0 .. n - 1 do
                c[cOffset + i * n + j] <- LanguagePrimitives.GenericZero
            for p in 0 .. k - 1 do
                let aip = if transA then a[aOffset + p * m + i] else a[aOffset + i * k + p]
                for j in 0 .. n - 1 do
                    let bpj = if transB then b[bOffset + j * k + p] else b[bOffset + p * n + j]
                    c[cOffset + i * n + j] <- c[cOffset + i * n + j] + aip * bpj

    let gemm32 transA transB m n k (a: float32[]) aOffset (b: float32[]) bOffset (c: float32[]) cOffset =
        gemm transA transB m n k a aOffset b bOffset c cOffset

    let gemm64 transA transB m n k (a: float[]) aOffset (b: float[]) bOffset (c: float[]) cOffset =
        gemm transA transB m n k a aOffset b bOffset c cOffset
