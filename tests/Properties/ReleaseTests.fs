/// First-order backward passes give the cotangent buffers that only the engine holds back to the
/// pool as soon as they are consumed. These tests look for a premature release: every gradient a
/// caller keeps (leaf gradients, gradients of intermediates, aliases such as x + x, views, a custom
/// op's cotangents) must keep its values while later work rents and overwrites pooled arrays of the
/// same length; and a pass over large tensors must actually give buffers back.
module TinyTorch.Properties.ReleaseTests

open System
open System.Collections.Generic
open Xunit
open TinyTorch
open TinyTorch.Functional

/// A pooled length (float64) that no other test uses, so churn rents exactly these arrays.
let private m = Pool.Threshold + 4321

let private vector (seed: int) =
    let r = Random(seed)
    Tensor.FromArray(Array.init m (fun _ -> r.NextDouble() * 2.0 - 1.0), m)

/// Rents (and fills with 7) many arrays of the test length, like the next step of a training loop,
/// after a collection has given back whatever is dead: a buffer released too early is overwritten.
let private churn () =
    GC.Collect()
    GC.WaitForPendingFinalizers()
    let kept = List<Tensor>()

    for _ in 1..40 do
        kept.Add(Tensor.Full(Shape.Of m, 7.0, DType.Float64))
        kept.Add(Tensor.Full(Shape.Of(m / 2 * 2), 7.0, DType.Float64))

    GC.KeepAlive kept

let private close (want: float[]) (got: float[]) =
    want.Length = got.Length && Array.forall2 (fun (p: float) q -> abs (p - q) <= 1e-12 * (1.0 + abs p)) want got

/// Each gradient's values: close to the expected ones right after the pass, and bit for bit the same
/// after churn.
let private checkKept (expected: (string * Node * float[]) list) =
    let before = [ for name, g, _ in expected -> name, g.Value.ToArray() ]

    for (name, _, want), (_, got) in List.zip expected before do
        Assert.True(close want got, sprintf "%s: wrong right after the pass" name)

    churn ()

    for (name, g, _), (_, got) in List.zip expected before do
        Assert.True((got = g.Value.ToArray()), sprintf "%s: changed after later allocations (its buffer was released while kept)" name)

let private map (f: float -> float) (t: Tensor) = t.ToArray() |> Array.map f
let private map2 (f: float -> float -> float) (a: Tensor) (b: Tensor) = Array.map2 f (a.ToArray()) (b.ToArray())

[<Collection("threads and memory")>]
type ReleaseTests() =

    [<Fact>]
    member _.``x + x: both contributions alias one cotangent, and the leaf gradient survives``() =
        let xv = vector 1
        let x = Node.leaf xv
        let grads = Reverse.gradients (Node.sumAll (Node.add x x))
        checkKept [ "d/dx", grads[x], Array.create m 2.0 ]

    [<Fact>]
    member _.``shared subexpressions and several uses of one leaf``() =
        let xv, yv = vector 2, vector 3
        let x, y = Node.leaf xv, Node.leaf yv
        let h = Node.multiply x y
        // sum(h·h + h + x): dh = 2h + 1; dx = dh·y + 1; dy = dh·x.
        let root = Node.sumAll (Node.add (Node.add (Node.multiply h h) h) x)
        let grads = Reverse.gradients root
        let hv = map2 (*) xv yv
        let dh = hv |> Array.map (fun v -> v + v + 1.0)
        let dx = Array.map2 (fun d yi -> d * yi + 1.0) dh (yv.ToArray())
        let dy = Array.map2 (fun d xi -> d * xi) dh (xv.ToArray())
        // Compared with the same operations the rules perform, so the values are bitwise the same.
        // A second pass gives bitwise the same gradients.
        let again = Reverse.gradients root
        checkKept [ "d/dx", grads[x], dx; "d/dy", grads[y], dy; "d/dx again", again[x], dx ]
        Assert.True((grads[x].Value.ToArray() = again[x].Value.ToArray()), "two passes differ")

    [<Fact>]
    member _.``gradients with respect to intermediates, views and identity ops are kept``() =
        let xv = vector 4
        let x = Node.leaf xv
        let h = Node.multiply x x
        let r = Node.reshape [| 1; m |] h
        let c = Node.cast DType.Float64 r
        let t = Node.tanh c
        let root = Node.sumAll (Node.add t (Node.reshape [| 1; m |] (Node.exp h)))
        let wrt = Reverse.gradientsWrt false (Node.constant (Tensor.Scalar(1.0, DType.Float64))) root [| t; r; h; x |]
        let tv = (Node.tanh (Node.constant (Tensor.reshape (Shape.Of(1, m)) (Tensor.multiply xv xv)))).Value
        let dr = map (fun v -> 1.0 - v * v) tv
        let dh = Array.map2 (+) dr (map Math.Exp (Tensor.multiply xv xv))
        let dx = Array.map2 (fun d xi -> d * (xi + xi)) dh (xv.ToArray())
        checkKept [ "d/dt", wrt[0], Array.create m 1.0; "d/dr", wrt[1], dr; "d/dh", wrt[2], dh; "d/dx", wrt[3], dx ]

    [<Fact>]
    member _.``a custom op's cotangent and results are never released``() =
        let xv = vector 5
        let x = Node.leaf xv
        let seen = List<Node>()
        // checkpoint runs user code (f) in its backward pass; the user code stashes what it receives.
        let f (xs: Node[]) =
            seen.Add xs[0]
            Node.multiply xs[0] xs[0]

        let inner = Node.multiply x (Node.constant (Tensor.Full(Shape.Of m, 3.0, DType.Float64)))
        let root = Node.sumAll (Node.tanh (Transforms.checkpoint f [| inner |]))
        let grads = Reverse.gradients root
        let z = map (fun v -> 3.0 * v) xv
        let stashed = [ for n in seen -> n.Value.ToArray() ]
        churn ()
        Assert.True(seen.Count >= 1)
        for n, before in Seq.zip seen stashed do
            Assert.True((before = n.Value.ToArray()), "a tensor the custom op saw changed")
            Assert.True((z = before), "the custom op saw wrong inputs")
        Assert.Equal(m, grads[x].Value.Shape.Size)
        Assert.True(grads[x].Value.ToArray() |> Array.forall Double.IsFinite)
        checkKept [ "d/dx", grads[x], grads[x].Value.ToArray() ]

    [<Fact>]
    member _.``a backward pass over large tensors gives its consumed cotangents back to the pool``() =
        let x = Node.leaf (vector 6)
        // Each tanh's VJP consumes the cotangent of its output: the engine alone holds those.
        let mutable y = x
        for _ in 1..6 do
            y <- Node.tanh y

        let root = Node.sumAll y
        let before = Pool.explicitReleases ()
        let idleBefore = Pool.idle ()
        let grads = Reverse.gradients root
        let released = Pool.explicitReleases () - before
        Assert.True(released >= 5L, sprintf "only %d buffers were given back" released)
        Assert.True(Pool.idle () > idleBefore || released >= 5L)
        checkKept [ "d/dx", grads[x], grads[x].Value.ToArray() ]

        // A recorded pass (create_graph) keeps everything: its results are part of a graph.
        let before = Pool.explicitReleases ()
        Reverse.gradientsWith true (Node.constant (Tensor.Scalar(1.0, DType.Float64))) root |> ignore
        Assert.Equal(before, Pool.explicitReleases ())

    [<Fact>]
    member _.``a released storage is given once: the finalizer does not give it again``() =
        let a = Pool.rent<float> m false
        let storage = PooledStorage(a)
        Assert.False storage.IsReleased
        let idleBefore = Pool.idle ()
        storage.Release()
        storage.Release()
        Assert.True storage.IsReleased
        Assert.Equal(idleBefore + int64 m * 8L, Pool.idle ())
        // The next two rents of this length get that array once, and a fresh one.
        let first = Pool.rent<float> m false
        let second = Pool.rent<float> m false
        Assert.False(obj.ReferenceEquals(first, second))
        GC.KeepAlive storage
