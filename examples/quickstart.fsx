// F# quick start: the pure core from a script.
// Build first (dotnet build), then: dotnet fsi examples/quickstart.fsx
#r "../src/TinyTorch.Functional/bin/Debug/net10.0/TinyTorch.Functional.dll"
#r "nuget: System.Numerics.Tensors, 10.0.0"

open TinyTorch
open TinyTorch.Functional

// Leaves are immutable graph nodes; operators record new nodes.
let x = Node.leaf (Tensor 2.0)
let y = Node.leaf (Tensor [| 1.0; 2.0; 3.0 |])

// f(x, y) = Σ (x·y + exp(−y))², a scalar
let f = Node.sumAll ((x * y + exp (-y)) ** 2.0)

// Reverse mode: a pure function from the output to every leaf's gradient.
let grads = Reverse.gradients f
printfn "f      = %O" f.Value
printfn "df/dx  = %O" grads[x].Value
printfn "df/dy  = %O" grads[y].Value

// Forward mode over the same op table: the directional derivative along (dx, dy) = (1, 0).
let dfdx = Forward.tangent [ (x, Tensor 1.0) ] f
printfn "JVP along x = %O (equals df/dx)" dfdx

// The public gradient checker: finite differences, a random direction and the adjoint identity.
let ok =
    GradCheck.check GradCheckOptions.Default (fun inputs -> Node.sumAll (Node.tanh (inputs[0] * inputs[1]))) [| Tensor 0.5; Tensor [| 1.0; -2.0 |] |]

printfn "gradient check passed: %b" ok
if not ok then exit 1
