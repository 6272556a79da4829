// Newton's method with function transforms: minimise the Rosenbrock function
//     f(x, y) = (1 − x)² + 100·(y − x²)²
// from the classic start (−1.2, 1), using Transforms.grad for the gradient and Transforms.hessian
// for the 2×2 Hessian; the Newton step solves H·d = ∇f by hand (Cramer's rule).
// Build first (dotnet build src/TinyTorch.Functional), then: dotnet fsi examples/newton.fsx
#r "../src/TinyTorch.Functional/bin/Debug/net10.0/TinyTorch.Functional.dll"
#r "nuget: System.Numerics.Tensors, 10.0.0"

open TinyTorch
open TinyTorch.Functional

/// The Rosenbrock function of a 2-vector p = (x, y), built from graph nodes.
let rosenbrock (p: Node) : Node =
    let x = Node.select 0 0 p
    let y = Node.select 0 1 p
    Node.square (1.0 - x) + 100.0 * Node.square (y - Node.square x)

let gradient = Transforms.grad rosenbrock
let hessian = Transforms.hessian rosenbrock

let valueAt (p: float[]) = (rosenbrock (Node.constant (Tensor p))).Value.Item()
let gradientAt (p: float[]) = (gradient (Node.constant (Tensor p))).Value.ToArray()
let hessianAt (p: float[]) = (hessian (Node.constant (Tensor p))).Value.ToArray() // [h00; h01; h10; h11]

// A check of the transforms against the closed forms at the start point:
// ∇f = (−2(1 − x) − 400x(y − x²), 200(y − x²)),  H = [[2 − 400(y − x²) + 800x², −400x], [−400x, 200]].
let start = [| -1.2; 1.0 |]
let closedGradient (p: float[]) = [| -2.0 * (1.0 - p[0]) - 400.0 * p[0] * (p[1] - p[0] * p[0]); 200.0 * (p[1] - p[0] * p[0]) |]
let closedHessian (p: float[]) =
    [| 2.0 - 400.0 * (p[1] - p[0] * p[0]) + 800.0 * p[0] * p[0]; -400.0 * p[0]; -400.0 * p[0]; 200.0 |]

let close (a: float[]) (b: float[]) = Array.forall2 (fun x y -> abs (x - y) <= 1e-9 * (1.0 + abs y)) a b
let transformsMatchClosedForms = close (gradientAt start) (closedGradient start) && close (hessianAt start) (closedHessian start)
printfn "at the start %A: gradient %A, Hessian %A (closed forms agree: %b)" start (gradientAt start) (hessianAt start) transformsMatchClosedForms

/// One Newton step d = H⁻¹·∇f for a 2×2 Hessian, or None when H is not positive definite.
let newtonStep (g: float[]) (h: float[]) : float[] option =
    let a, b, c, d = h[0], h[1], h[2], h[3]
    let det = a * d - b * c

    if a <= 0.0 || det <= 0.0 then None
    else Some [| (d * g[0] - b * g[1]) / det; (a * g[1] - c * g[0]) / det |]

/// Newton's method with a backtracking line search (halve the step until f decreases), falling back
/// to the gradient direction where the Hessian is not positive definite.
let rec minimise (iteration: int) (p: float[]) =
    let g = gradientAt p
    let gradNorm = sqrt (g[0] * g[0] + g[1] * g[1])
    printfn "%3d  x = %+.12f  y = %+.12f  f = %.6e  |∇f| = %.3e" iteration p[0] p[1] (valueAt p) gradNorm

    if gradNorm < 1e-10 || iteration >= 100 then p, iteration
    else
        let direction, kind =
            match newtonStep g (hessianAt p) with
            | Some d -> d, "newton"
            | None -> g, "gradient"

        let rec search (t: float) =
            let candidate = [| p[0] - t * direction[0]; p[1] - t * direction[1] |]
            if valueAt candidate < valueAt p || t < 1e-12 then candidate, t else search (t / 2.0)

        let next, t = search 1.0
        if kind <> "newton" || t < 1.0 then printfn "     (%s step, length factor %g)" kind t
        minimise (iteration + 1) next

printfn "Newton's method on the Rosenbrock function from %A:" start
let minimum, iterations = minimise 0 start
let error = sqrt ((minimum[0] - 1.0) ** 2.0 + (minimum[1] - 1.0) ** 2.0)
printfn "minimum found at (%.12f, %.12f) after %d iterations; distance to (1, 1): %.3e" minimum[0] minimum[1] iterations error

let converged = error < 1e-8 && iterations < 100
printfn "check (closed forms agree and converged to (1, 1)): %s" (if transformsMatchClosedForms && converged then "passed" else "FAILED")
if not (transformsMatchClosedForms && converged) then exit 1
