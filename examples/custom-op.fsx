// A user-defined op: a numerically stable softplus(x) = log(1 + eˣ) with its own forward (on
// tensors), VJP and JVP. The rules are written with Node ops, so the op also has second derivatives.
// It is checked with GradCheck, differentiated with Transforms (grad, grad of grad, hessian, jvp)
// and used in a logistic-regression loss trained by gradient descent with Transforms.grad.
// Build first (dotnet build src/TinyTorch.Functional), then: dotnet fsi examples/custom-op.fsx
#r "../src/TinyTorch.Functional/bin/Debug/net10.0/TinyTorch.Functional.dll"
#r "nuget: System.Numerics.Tensors, 10.0.0"

open System
open TinyTorch
open TinyTorch.Functional

/// softplus(x) = max(x, 0) + log(1 + e^−|x|): never overflows, exact for large |x|.
let stableSoftplus (x: float) = max x 0.0 + Double.LogP1(exp (-(abs x)))

let softplusOp =
    CustomOp(
        "stable_softplus",
        // forward: elementwise on the values, in the input's dtype
        Func<Tensor[], Tensor>(fun v ->
            let x = v[0]
            Tensor.cast x.DType (Tensor.FromArray(x.ToArray() |> Array.map stableSoftplus, x.Shape.ToArray()))),
        // VJP: d softplus / dx = σ(x), so the cotangent is g·σ(x) (Node ops: differentiable again)
        Func<Node[], Node, Node, Node[]>(fun inputs _ g -> [| g * Node.sigmoid inputs[0] |]),
        // JVP: t·σ(x); a null tangent means zero
        Func<Node[], Node, Node[], Node>(fun inputs _ t -> if isNull t[0] then null else t[0] * Node.sigmoid inputs[0])
    )

let softplus (x: Node) = Node.custom softplusOp [| x |]

let mutable ok = true
let check (what: string) (passed: bool) =
    printfn "  %-62s %s" what (if passed then "ok" else "FAILED")
    ok <- ok && passed

let close (tolerance: float) (a: float[]) (b: float[]) =
    a.Length = b.Length && Array.forall2 (fun x y -> abs (x - y) <= tolerance * (1.0 + abs y)) a b

// 1. Stability: the naive log(1 + eˣ) overflows for large x, the custom op does not.
let points = [| -1000.0; -30.0; -1.0; 0.0; 1.0; 30.0; 1000.0 |]
let x = Node.constant (Tensor points)
let custom = (softplus x).Value.ToArray()
let naive = (Node.log (1.0 + Node.exp x)).Value.ToArray()
let builtIn = (Node.softplus x).Value.ToArray()
printfn "x                   %A" points
printfn "custom softplus     %A" custom
printfn "naive log(1 + e^x)  %A" naive
printfn "checks:"
check "custom softplus is finite everywhere and equals Node.softplus" (Array.forall Double.IsFinite custom && close 1e-15 custom builtIn)

// 2. The gradient checker: finite differences, a random direction and the adjoint identity (JVP vs VJP).
let inputs = [| Tensor.FromArray([| -3.0; -0.5; 0.0; 0.7; 2.5; 4.0 |], 2, 3) |]
let mismatches = GradCheck.compareAll GradCheckOptions.Default (fun xs -> softplus xs[0]) inputs
check "GradCheck.check (finite differences, direction, adjoint)" (GradCheck.check GradCheckOptions.Default (fun xs -> softplus xs[0]) inputs)
check "GradCheck.compareAll reports no mismatch" (List.isEmpty mismatches)

// 3. Transforms: first and second derivatives, Hessian, JVP.
let sigmoid (v: float) = 1.0 / (1.0 + exp (-v))
let moderate = [| -2.0; -0.5; 0.0; 1.5 |]
let xm = Node.constant (Tensor moderate)
let derivative (f: Node -> Node) = Transforms.grad (fun y -> Node.sumAll (f y))
let first = (derivative softplus xm).Value.ToArray()
let second = (derivative (derivative softplus) xm).Value.ToArray()
let hessian = (Transforms.hessian (fun y -> Node.sumAll (softplus y)) xm).Value.ToArray()
let _, jvp = Transforms.jvp softplus xm (Node.constant (Tensor [| 1.0; 2.0; 3.0; 4.0 |]))
printfn "grad Σ softplus   = %A (σ(x))" first
printfn "second derivative = %A (σ(x)·(1 − σ(x)))" second
check "grad of Σ softplus is σ(x)" (close 1e-15 first (moderate |> Array.map sigmoid))
check "grad of grad is σ(x)·(1 − σ(x))" (close 1e-15 second (moderate |> Array.map (fun v -> sigmoid v * (1.0 - sigmoid v))))
check "hessian is diagonal with σ(x)·(1 − σ(x))" (close 1e-15 hessian (Array.init 16 (fun k -> if k / 4 = k % 4 then second[k % 4] else 0.0)))
check "jvp along t is t·σ(x)" (close 1e-15 (jvp.Value.ToArray()) (Array.map2 (fun v t -> t * sigmoid v) moderate [| 1.0; 2.0; 3.0; 4.0 |]))

// 4. Inside a model: logistic regression, loss(w) = mean softplus(−y·(X·w)), by gradient descent.
let rng = Random 7
let n = 200
let features =
    Array2D.init n 3 (fun i j ->
        let label = if i % 2 = 0 then 1.0 else -1.0
        if j = 2 then 1.0 else label * 1.2 + (rng.NextDouble() * 2.0 - 1.0) * 1.5 + (if j = 1 then 0.5 else 0.0))
let labels = Array.init n (fun i -> if i % 2 = 0 then 1.0 else -1.0)
let xData = Node.constant (Tensor features)
let yData = Node.constant (Tensor labels)
let lossWith (sp: Node -> Node) (w: Node) = Node.mean (sp (-(yData * Node.matmul xData w)))
let loss = lossWith softplus

let rec train (step: int) (w: Tensor) (losses: float list) =
    let value, g = Transforms.valueAndGrad loss (Node.constant w)
    if step % 50 = 0 then printfn "  step %3d  loss %.6f  w = %O" step (value.Value.Item()) w
    if step = 200 then w, List.rev (value.Value.Item() :: losses)
    else train (step + 1) (w - g.Value * 0.5) (value.Value.Item() :: losses)

printfn "logistic regression with the custom softplus:"
let w, losses = train 0 (Tensor [| 0.0; 0.0; 0.0 |]) []
let scores = (Node.matmul xData (Node.constant w)).Value.ToArray()
let accuracy = Array.map2 (fun s l -> if s * l > 0.0 then 1.0 else 0.0) scores labels |> Array.average
printfn "  final loss %.6f, training accuracy %.1f%%" (List.last losses) (100.0 * accuracy)
let wNode = Node.constant w
let gradCustom = (Transforms.grad loss wNode).Value.ToArray()
let gradBuiltIn = (Transforms.grad (lossWith Node.softplus) wNode).Value.ToArray()
check "the loss decreased at every step" (List.pairwise losses |> List.forall (fun (a, b) -> b <= a))
check "training accuracy at least 90%" (accuracy >= 0.9)
check "the gradient equals the one with the built-in Node.softplus" (close 1e-12 gradCustom gradBuiltIn)

// 5. An op without a JVP works in reverse mode only; forward mode names it in its error.
let reverseOnly = CustomOp("softplus_reverse_only", softplusOp.Forward, softplusOp.Vjp, null)
let reverseGradient = (derivative (fun y -> Node.custom reverseOnly [| y |]) xm).Value.ToArray()
let forwardError =
    try
        Transforms.jvp (fun y -> Node.custom reverseOnly [| y |]) xm xm |> ignore
        None
    with :? NotSupportedException as e -> Some e.Message
printfn "forward mode through an op without a JVP: %s" (defaultArg forwardError "no error")
check "reverse mode works without a JVP" (close 1e-15 reverseGradient first)
check "forward mode raises NotSupportedException naming the op" (forwardError |> Option.exists (fun m -> m.Contains "softplus_reverse_only"))

printfn "custom op checks: %s" (if ok then "passed" else "FAILED")
if not ok then exit 1
