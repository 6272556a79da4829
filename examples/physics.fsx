// Forward-mode sensitivities of a simulation: a projectile with quadratic air drag, integrated
// step by step with graph nodes. Transforms.jvp gives the derivative of the landing distance with
// respect to the launch speed and the launch angle in one forward pass each; they are compared with
// central finite differences and with reverse mode, and the angle derivative then finds the best
// launch angle (below 45° because of drag) by bisection on dR/dθ = 0.
// Build first (dotnet build src/TinyTorch.Functional), then: dotnet fsi examples/physics.fsx
#r "../src/TinyTorch.Functional/bin/Debug/net10.0/TinyTorch.Functional.dll"
#r "nuget: System.Numerics.Tensors, 10.0.0"

open System
open TinyTorch
open TinyTorch.Functional

let gravity = 9.81
/// Drag coefficient k in a = −k·|v|·v − g·ŷ (per metre), roughly a tennis ball.
let drag = 0.02
let dt = 2e-3

/// The horizontal distance at which a projectile launched from the ground with speed v0 (m/s) at
/// angle θ (radians) lands: semi-implicit Euler steps until it is below the ground, then linear
/// interpolation between the last two states (so the distance is a smooth function of v0 and θ).
/// The loop's control flow reads values only; every quantity is a node, so jvp and grad see it.
let landingDistance (v0: Node) (theta: Node) : Node =
    let rec fly (x: Node) (y: Node) (vx: Node) (vy: Node) (steps: int) =
        let speed = Node.sqrt (vx * vx + vy * vy)
        let vx' = vx - dt * drag * speed * vx
        let vy' = vy - dt * (gravity + drag * speed * vy)
        let x' = x + dt * vx'
        let y' = y + dt * vy'

        if y'.Value.Item() < 0.0 || steps > 1_000_000 then
            // the fraction of the last step at which y crossed zero
            x + (x' - x) * (y / (y - y'))
        else
            fly x' y' vx' vy' (steps + 1)

    let zero = Node.scalarLike 0.0 v0
    fly zero zero (v0 * Node.cos theta) (v0 * Node.sin theta) 0

let v0, theta = 30.0, 40.0 * Math.PI / 180.0
let c (v: float) = Node.constant (Tensor v)
let distance (v: float) (t: float) = (landingDistance (c v) (c t)).Value.Item()

// Forward mode: one jvp per direction.
let range, dRdv = Transforms.jvp (fun v -> landingDistance v (c theta)) (c v0) (c 1.0)
let _, dRdtheta = Transforms.jvp (fun t -> landingDistance (c v0) t) (c theta) (c 1.0)
// Both at once along a direction (δv0, δθ) = (1, 2) with jvpArgs.
let _, along = Transforms.jvpArgs (fun xs -> landingDistance xs[0] xs[1]) [| c v0; c theta |] [| c 1.0; c 2.0 |]

// Central finite differences.
let h = 1e-6
let fdV = (distance (v0 + h) theta - distance (v0 - h) theta) / (2.0 * h)
let fdTheta = (distance v0 (theta + h) - distance v0 (theta - h)) / (2.0 * h)

// Reverse mode for comparison: both partial derivatives from one backward pass.
let reverse = Transforms.gradArgs [| 0; 1 |] (fun xs -> landingDistance xs[0] xs[1]) [| c v0; c theta |]

printfn "projectile with drag k = %g /m, launched at %g m/s and %g°" drag v0 (theta * 180.0 / Math.PI)
printfn "landing distance R = %.6f m (drag-free range would be %.3f m)" (range.Value.Item()) (v0 * v0 * sin (2.0 * theta) / gravity)
printfn "dR/dv0: jvp %.9f  finite difference %.9f  reverse %.9f  (m per m/s)" (dRdv.Value.Item()) fdV (reverse[0].Value.Item())
printfn "dR/dθ : jvp %.9f  finite difference %.9f  reverse %.9f  (m per radian)" (dRdtheta.Value.Item()) fdTheta (reverse[1].Value.Item())
printfn "along (1, 2): jvpArgs %.9f, 1·dR/dv0 + 2·dR/dθ = %.9f" (along.Value.Item()) (dRdv.Value.Item() + 2.0 * dRdtheta.Value.Item())

let agree (a: float) (b: float) tolerance = abs (a - b) <= tolerance * (1.0 + abs b)

let derivativesAgree =
    agree (dRdv.Value.Item()) fdV 1e-5
    && agree (dRdtheta.Value.Item()) fdTheta 1e-5
    && agree (dRdv.Value.Item()) (reverse[0].Value.Item()) 1e-10
    && agree (dRdtheta.Value.Item()) (reverse[1].Value.Item()) 1e-10
    && agree (along.Value.Item()) (dRdv.Value.Item() + 2.0 * dRdtheta.Value.Item()) 1e-10

// The best launch angle: dR/dθ = 0, found by bisection on the forward-mode derivative.
let slopeAt (t: float) = (snd (Transforms.jvp (fun t -> landingDistance (c v0) t) (c t) (c 1.0))).Value.Item()

// (The time step makes R smooth between changes of the step count only, so the derivative may jump
// by O(dt) where the count changes: the bracket shows the sign change itself.)
let rec bisect (lo: float) (hi: float) (n: int) =
    let mid = (lo + hi) / 2.0
    if n = 0 then lo, hi elif slopeAt mid > 0.0 then bisect mid hi (n - 1) else bisect lo mid (n - 1)

let lo, hi = 20.0 * Math.PI / 180.0, 50.0 * Math.PI / 180.0
let left, right = bisect lo hi 24
let best = (left + right) / 2.0
let bestDistance = distance v0 best
let degrees (t: float) = t * 180.0 / Math.PI
printfn "best launch angle: %.5f° (dR/dθ = %+.2e at %.5f°, %+.2e at %.5f°), distance %.6f m" (degrees best) (slopeAt left) (degrees left) (slopeAt right) (degrees right) bestDistance

// The optimum must beat its neighbours and lie below 45° (drag lowers the optimal angle).
let optimumValid =
    slopeAt lo > 0.0
    && slopeAt hi < 0.0
    && best < Math.PI / 4.0
    && bestDistance >= distance v0 (best - 0.01)
    && bestDistance >= distance v0 (best + 0.01)

printfn "check (jvp = finite differences = reverse mode; optimum valid): %s" (if derivativesAgree && optimumValid then "passed" else "FAILED")
if not (derivativesAgree && optimumValid) then exit 1
