namespace TinyTorch.Functional

open System
open TinyTorch

/// JAX-style function transforms over functions of nodes. Every transform takes the point as a
/// node: at the top level pass <c>Node.constant tensor</c>; inside another transform pass the node
/// you were given, and the result stays differentiable, so transforms nest to any depth
/// (<c>grad (grad f)</c>). Each call differentiates with respect to its own inputs only, so nested
/// derivatives never confuse their perturbations.
[<RequireQualifiedAccess>]
module Transforms =

    /// A fresh differentiable input for each point: a constant becomes a leaf; a node that already
    /// requires grad (an outer transform's variable) gets an identity node of this transform's own,
    /// so this transform sees only its own uses of the point while the outer transform can still
    /// differentiate through it (no perturbation confusion even when the outer variable is the point).
    let private asInput (x: Node) =
        if (notNull "x" x).RequiresGrad then Node.apply (Op.Reshape x.Shape) [| x |] else Node.leaf x.Value

    /// Whether this transform's result must stay differentiable: true when the output's graph reaches
    /// any leaf other than the ones this transform created (an outer transform's variable, passed in
    /// or captured), so that the outer transform can differentiate through this one.
    let private nested (output: Node) (inputs: Node[]) (created: Node[]) =
        inputs |> Array.exists (fun x -> x.RequiresGrad && not (Array.exists (fun c -> obj.ReferenceEquals(c, x)) created))
        || Reverse.topologicalOrder output |> Seq.exists (fun n -> n.IsLeaf && not (Array.exists (fun c -> obj.ReferenceEquals(c, n)) created))

    /// The leaves this transform created for its arguments (those that were constants).
    let private created (xs: Node[]) (inputs: Node[]) =
        Array.map2 (fun (x: Node) (input: Node) -> if obj.ReferenceEquals(x, input) then null else input) xs inputs
        |> Array.filter (isNull >> not)

    /// The cotangents of <paramref name="output"/> (seeded with <paramref name="seed"/>) at each of
    /// <paramref name="inputs"/>; zeros when the output does not depend on them (never an error).
    let private pullback (createGraph: bool) (seed: Node) (output: Node) (inputs: Node[]) : Node[] =
        if output.RequiresGrad then Reverse.gradientsWrt createGraph seed output inputs
        else inputs |> Array.map (fun x -> Node.constant (Tensor.zerosLike x.Value))

    let private ones (x: Node) = Node.constant (Tensor.onesLike x.Value)

    let private requireScalar (transform: string) (y: Node) =
        if y.Shape.Size <> 1 then
            raise (ArgumentException(sprintf "%s: the function must return a single value, but returned shape %O; reduce it first (e.g. Node.sumAll) or use vjp." transform y.Shape))

    /// Value and gradients of a scalar function of several inputs with respect to the inputs at
    /// <paramref name="argnums"/> (JAX's <c>value_and_grad(f, argnums)</c>).
    let valueAndGradArgs (argnums: int[]) (f: Node[] -> Node) (xs: Node[]) : Node * Node[] =
        let xs = notNull "xs" xs
        let inputs = xs |> Array.mapi (fun i x -> if Array.contains i argnums then asInput x else notNull "xs" x)

        for i in notNull "argnums" argnums do
            if i < 0 || i >= xs.Length then
                raise (ArgumentOutOfRangeException("argnums", i, sprintf "grad: argnum %d is out of range for %d inputs." i xs.Length))

        let y = (notNull "f" f) inputs
        requireScalar "grad" y
        let wrt = argnums |> Array.map (fun i -> inputs[i])
        y, pullback (nested y inputs (created xs inputs)) (ones y) y wrt

    /// Gradients of a scalar function of several inputs with respect to the inputs at <paramref name="argnums"/>.
    let gradArgs (argnums: int[]) (f: Node[] -> Node) (xs: Node[]) : Node[] = snd (valueAndGradArgs argnums f xs)

    /// The value and the gradient of a scalar function of one input.
    let valueAndGrad (f: Node -> Node) (x: Node) : Node * Node =
        let y, g = valueAndGradArgs [| 0 |] (fun xs -> f xs[0]) [| x |]
        y, g[0]

    /// The gradient of a scalar function of one input (JAX's <c>grad</c>); zeros where the function
    /// does not depend on its input, including a constant gradient differentiated again.
    let grad (f: Node -> Node) (x: Node) : Node = snd (valueAndGrad f x)

    /// The gradient of a function that returns (scalar, auxiliary data), and the auxiliary data
    /// (JAX's <c>grad(f, has_aux=True)</c>).
    let gradWithAux (f: Node -> Node * 'Aux) (x: Node) : Node * 'Aux =
        let input = asInput x
        let y, aux = f input
        requireScalar "grad" y
        (pullback (nested y [| input |] (created [| x |] [| input |])) (ones y) y [| input |])[0], aux

    /// The value of <paramref name="f"/> at <paramref name="xs"/> and its pullback: a function from a
    /// cotangent of the output to the cotangents of every input (JAX's <c>vjp</c>).
    let vjpArgs (f: Node[] -> Node) (xs: Node[]) : Node * (Node -> Node[]) =
        let inputs = notNull "xs" xs |> Array.map asInput
        let y = (notNull "f" f) inputs
        let record = nested y inputs (created xs inputs)

        let back (cotangent: Node) =
            if not ((notNull "cotangent" cotangent).Shape.Equals y.Shape) then
                raise (ArgumentException(sprintf "vjp: the cotangent has shape %O but the output has shape %O." cotangent.Shape y.Shape, "cotangent"))

            pullback (record || cotangent.RequiresGrad) cotangent y inputs

        y, back

    /// The value of a function of one input and its pullback.
    let vjp (f: Node -> Node) (x: Node) : Node * (Node -> Node) =
        let y, back = vjpArgs (fun xs -> f xs[0]) [| x |]
        y, (fun cotangent -> (back cotangent)[0])

    /// The value of <paramref name="f"/> at <paramref name="xs"/> and its directional derivative along
    /// <paramref name="tangents"/>, by forward mode over the op table (JAX's <c>jvp</c>).
    let jvpArgs (f: Node[] -> Node) (xs: Node[]) (tangents: Node[]) : Node * Node =
        let inputs = notNull "xs" xs |> Array.map asInput

        if (notNull "tangents" tangents).Length <> inputs.Length then
            raise (ArgumentException(sprintf "jvp: %d tangents for %d inputs; give one tangent per input." tangents.Length inputs.Length, "tangents"))

        let y = (notNull "f" f) inputs

        if not y.RequiresGrad then
            y, Node.constant (Tensor.zerosLike y.Value)
        else
            let seeds = Array.map2 (fun (x: Node) (t: Node) -> (if x.IsLeaf then x.Key else box x), t) inputs tangents
            y, Forward.tangentWith (nested y inputs (created xs inputs) || tangents |> Array.exists (fun t -> t.RequiresGrad)) seeds y

    /// The value of a function of one input and its directional derivative along <paramref name="tangent"/>.
    let jvp (f: Node -> Node) (x: Node) (tangent: Node) : Node * Node = jvpArgs (fun xs -> f xs[0]) [| x |] [| tangent |]

    /// One-hot basis tensors of a shape: the i-th has a 1 at flat position i.
    let private basis (like: Node) =
        Array.init like.Shape.Size (fun i ->
            let data = Array.zeroCreate like.Shape.Size
            data[i] <- 1.0
            Node.constant (Tensor.cast like.DType (Tensor.FromArray(data, like.Shape.ToArray()))))

    /// The Jacobian by reverse mode, one pullback per output element (JAX's <c>jacrev</c>); its
    /// shape is the output's shape followed by the input's.
    let jacrev (f: Node -> Node) (x: Node) : Node =
        let y, back = vjp f x
        let rows = basis y |> Array.map (fun e -> Node.reshape [| -1 |] (back e))
        let stacked = if rows.Length = 0 then Node.constant (Tensor.Zeros(Shape.Of(0, x.Shape.Size), x.DType)) else Node.stack 0 rows
        Node.reshape (Array.append (y.Shape.ToArray()) (x.Shape.ToArray())) stacked

    /// The Jacobian by forward mode, one tangent per input element (JAX's <c>jacfwd</c>); same shape as <see cref="jacrev"/>.
    let jacfwd (f: Node -> Node) (x: Node) : Node =
        let results = basis (notNull "x" x) |> Array.map (fun e -> jvp f x e)
        let y = if results.Length > 0 then fst results[0] else f x
        let stacked =
            if results.Length = 0 then Node.constant (Tensor.Zeros(Shape.Of(y.Shape.Size, 0), y.DType))
            else Node.stack -1 (results |> Array.map (fun (_, column) -> Node.reshape [| -1 |] column))
        Node.reshape (Array.append (y.Shape.ToArray()) (x.Shape.ToArray())) stacked

    /// The Jacobian (reverse mode).
    let jacobian (f: Node -> Node) (x: Node) : Node = jacrev f x

    /// The Hessian of a scalar function: forward mode over its gradient (JAX's <c>hessian</c>);
    /// shape: the input's shape twice.
    let hessian (f: Node -> Node) (x: Node) : Node = jacfwd (grad f) x

    /// The Hessian-vector product H·v without forming H: forward mode over the gradient.
    let hvp (f: Node -> Node) (x: Node) (v: Node) : Node = snd (jvp (grad f) x v)

    /// Applies <paramref name="f"/> without keeping its internal graph: the result is one node whose
    /// backward pass recomputes f (gradient checkpointing; PyTorch: <c>torch.utils.checkpoint</c>).
    /// Gradients, JVPs and higher derivatives equal those of f itself.
    let checkpoint (f: Node[] -> Node) (xs: Node[]) : Node =
        let f, xs = notNull "f" f, notNull "xs" xs
        let recompute (inputs: Node[]) = inputs |> Array.map asInput |> fun leaves -> leaves, f leaves

        let op =
            CustomOp(
                "checkpoint",
                Func<Tensor[], Tensor>(fun values -> (f (Array.map Node.constant values)).Value),
                Func<Node[], Node, Node, Node[]>(fun inputs _ cotangent ->
                    let leaves, y = recompute inputs
                    pullback (nested y leaves (created inputs leaves) || cotangent.RequiresGrad) cotangent y leaves),
                Func<Node[], Node, Node[], Node>(fun inputs _ tangents ->
                    let zeroed = Array.map2 (fun (x: Node) (t: Node) -> if isNull t then Node.constant (Tensor.zerosLike x.Value) else t) inputs tangents
                    snd (jvpArgs f inputs zeroed))
            )

        Node.custom op xs
