// One recursive group: the op table's rules are written with the same smart constructors that
// record graphs, so a backward pass can itself be recorded and differentiated again.
namespace rec TinyTorch.Functional

open System
open System.Threading
open TinyTorch

/// The primitive ops. Each case has exactly one arm in <see cref="OpTable.rule"/>, where its
/// forward, VJP and JVP are written side by side.
[<RequireQualifiedAccess>]
type Op =
    /// A differentiable input, identified by its key.
    | Leaf
    /// A value that needs no gradient.
    | Constant
    | Add
    | Subtract
    | Multiply
    | Divide
    | Negate
    /// x ** exponent, the exponent a fixed number.
    | Power of exponent: float
    | Exp
    /// The natural logarithm, unclamped (<see cref="Node.log"/> is the course's clamped log).
    | Log
    | Relu
    | Sigmoid
    | Tanh
    | SumAll
    /// NumPy broadcasting to a shape: the one op that deals with broadcasting.
    | Expand of shape: Shape
    /// Sum over broadcast dimensions down to a shape: the adjoint of Expand.
    | SumTo of shape: Shape
    | Cast of dtype: DType
    | ClampMin of lower: float
    /// 1 above the threshold, 0 below, the given value at it; not differentiable (derivative 0).
    | Step of threshold: float * atThreshold: float

    /// The op's name as it appears in messages and graphs, e.g. <c>add</c>.
    member this.Name =
        match this with
        | Op.Leaf -> "leaf"
        | Op.Constant -> "constant"
        | Op.Add -> "add"
        | Op.Subtract -> "subtract"
        | Op.Multiply -> "multiply"
        | Op.Divide -> "divide"
        | Op.Negate -> "negate"
        | Op.Power _ -> "power"
        | Op.Exp -> "exp"
        | Op.Log -> "log"
        | Op.Relu -> "relu"
        | Op.Sigmoid -> "sigmoid"
        | Op.Tanh -> "tanh"
        | Op.SumAll -> "sum_all"
        | Op.Expand _ -> "expand"
        | Op.SumTo _ -> "sum_to"
        | Op.Cast _ -> "cast"
        | Op.ClampMin _ -> "clamp_min"
        | Op.Step _ -> "step"

/// An immutable node of an expression graph: its op, its inputs and its value, computed when the
/// node is built. Nodes have reference identity.
[<Sealed; AllowNullLiteral>]
type Node internal (op: Op, inputs: Node[], value: Tensor, requiresGrad: bool, key: obj) =
    static let mutable lastId = 0L
    let id = Interlocked.Increment(&lastId)
    let isLeaf = (match op with Op.Leaf -> true | _ -> false)

    /// A number unique to this node, increasing in creation order (inputs before their users).
    member _.Id = id
    /// The primitive op that produced this node.
    member _.Op = op
    member internal _.InputArray = inputs
    /// The nodes this one was computed from (empty for leaves and constants).
    member _.Inputs: Collections.Generic.IReadOnlyList<Node> = inputs
    /// The value, computed when the node was built.
    member _.Value = value
    /// True when the node depends on a leaf, so that gradients flow through it.
    member _.RequiresGrad = requiresGrad
    /// For a leaf, the key gradients are reported under (the node itself unless one was given); else null.
    member this.Key = if isNull key && isLeaf then box this else key
    /// True for leaves (differentiable inputs).
    member _.IsLeaf = isLeaf
    /// The value's shape.
    member _.Shape = value.Shape
    /// The value's element type.
    member _.DType = value.DType

    /// Op name, shape and dtype.
    override _.ToString() = sprintf "Node(%s, %O, %O)" op.Name value.Shape value.DType

    /// Elementwise sum with broadcasting.
    static member (+)(a: Node, b: Node) = Node.add a b
    /// Elementwise difference with broadcasting.
    static member (-)(a: Node, b: Node) = Node.subtract a b
    /// Elementwise product with broadcasting.
    static member (*)(a: Node, b: Node) = Node.multiply a b
    /// Elementwise quotient with broadcasting.
    static member (/)(a: Node, b: Node) = Node.divide a b
    /// Adds a number in the node's dtype.
    static member (+)(a: Node, b: float) = Node.add a (Node.scalarLike b a)
    /// Adds a number in the node's dtype.
    static member (+)(a: float, b: Node) = Node.add (Node.scalarLike a b) b
    /// Subtracts a number in the node's dtype.
    static member (-)(a: Node, b: float) = Node.subtract a (Node.scalarLike b a)
    /// Subtracts from a number in the node's dtype.
    static member (-)(a: float, b: Node) = Node.subtract (Node.scalarLike a b) b
    /// Multiplies by a number in the node's dtype.
    static member (*)(a: Node, b: float) = Node.multiply a (Node.scalarLike b a)
    /// Multiplies by a number in the node's dtype.
    static member (*)(a: float, b: Node) = Node.multiply (Node.scalarLike a b) b
    /// Divides by a number in the node's dtype.
    static member (/)(a: Node, b: float) = Node.divide a (Node.scalarLike b a)
    /// Divides a number by the node in the node's dtype.
    static member (/)(a: float, b: Node) = Node.divide (Node.scalarLike a b) b
    /// Elementwise negation.
    static member (~-)(a: Node) = Node.negate a
    /// <c>x ** p</c> for a fixed exponent.
    static member Pow(a: Node, p: float) = Node.power p a
    /// Lets F#'s <c>exp</c> work on nodes.
    static member Exp(a: Node) = Node.exp a
    /// Lets F#'s <c>log</c> work on nodes (the course's clamped log).
    static member Log(a: Node) = Node.log a
    /// Lets F#'s <c>tanh</c> work on nodes.
    static member Tanh(a: Node) = Node.tanh a

/// The rules of one primitive op.
type Rule =
    {
        /// Computes the output value from the input values (shapes and dtypes already conformed).
        Forward: Tensor[] -> Tensor
        /// Given the inputs, the output and the output's cotangent, the cotangent contribution for
        /// each input (null: none). Written with graph constructors, so it can be differentiated.
        Vjp: Node[] -> Node -> Node -> Node[]
        /// Given the inputs, the output and each input's tangent (null: zero), the output's
        /// tangent (null: zero).
        Jvp: Node[] -> Node -> Node[] -> Node
    }

/// The op table: for every primitive, forward, VJP and JVP together. The only place that knows
/// any derivative.
[<RequireQualifiedAccess>]
module OpTable =
    /// Sum of two tangents where null means zero.
    let private plus (a: Node) (b: Node) =
        if isNull a then b
        elif isNull b then a
        else Node.add a b

    /// Applies a linear map to a tangent where null means zero.
    let private lift (f: Node -> Node) (t: Node) = if isNull t then null else f t

    /// Forward, VJP and JVP of <paramref name="op"/>.
    let rule (op: Op) : Rule =
        match op with
        | Op.Leaf
        | Op.Constant ->
            { Forward = fun _ -> invalidOp "leaves and constants carry their value; nothing computes it."
              Vjp = fun _ _ _ -> [||]
              Jvp = fun _ _ _ -> null }
        | Op.Add ->
            { Forward = fun v -> Tensor.zipSame ZipKernel.Add v[0] v[1]
              Vjp = fun _ _ g -> [| g; g |]
              Jvp = fun _ _ t -> plus t[0] t[1] }
        | Op.Subtract ->
            { Forward = fun v -> Tensor.zipSame ZipKernel.Subtract v[0] v[1]
              Vjp = fun _ _ g -> [| g; Node.negate g |]
              Jvp = fun _ _ t -> plus t[0] (lift Node.negate t[1]) }
        | Op.Multiply ->
            { Forward = fun v -> Tensor.zipSame ZipKernel.Multiply v[0] v[1]
              Vjp = fun x _ g -> [| Node.multiply g x[1]; Node.multiply g x[0] |]
              Jvp = fun x _ t -> plus (lift (fun t -> Node.multiply t x[1]) t[0]) (lift (Node.multiply x[0]) t[1]) }
        // d(a/b) = da/b − (a/b)·db/b: reuses the output y = a/b and never squares b (no overflow).
        | Op.Divide ->
            let wrtDenominator (x: Node[]) (y: Node) (s: Node) = Node.negate (Node.divide (Node.multiply s y) x[1])

            { Forward = fun v -> Tensor.zipSame ZipKernel.Divide v[0] v[1]
              Vjp = fun x y g -> [| Node.divide g x[1]; wrtDenominator x y g |]
              Jvp = fun x y t -> plus (lift (fun t -> Node.divide t x[1]) t[0]) (lift (wrtDenominator x y) t[1]) }
        | Op.Negate ->
            { Forward = fun v -> Tensor.map MapKernel.Negate v[0]
              Vjp = fun _ _ g -> [| Node.negate g |]
              Jvp = fun _ _ t -> lift Node.negate t[0] }
        // d(x^p) = p·x^(p−1). x^0 is the constant 1, so its derivative is 0 everywhere, x = 0 included.
        | Op.Power p ->
            let slope (x: Node) = Node.multiply (Node.power (p - 1.0) x) (Node.scalarLike p x)

            { Forward = fun v -> Tensor.map (MapKernel.Power p) v[0]
              Vjp = fun x _ g -> [| (if p = 0.0 then null else Node.multiply g (slope x[0])) |]
              Jvp = fun x _ t -> if p = 0.0 then null else lift (fun t -> Node.multiply t (slope x[0])) t[0] }
        | Op.Exp ->
            { Forward = fun v -> Tensor.map MapKernel.Exp v[0]
              Vjp = fun _ y g -> [| Node.multiply g y |]
              Jvp = fun _ y t -> lift (Node.multiply y) t[0] }
        | Op.Log ->
            { Forward = fun v -> Tensor.map MapKernel.Log v[0]
              Vjp = fun x _ g -> [| Node.divide g x[0] |]
              Jvp = fun x _ t -> lift (fun t -> Node.divide t x[0]) t[0] }
        // relu'(0) = 0, as PyTorch and JAX.
        | Op.Relu ->
            let slope (x: Node) = Node.step 0.0 0.0 x

            { Forward = fun v -> Tensor.map MapKernel.Relu v[0]
              Vjp = fun x _ g -> [| Node.multiply g (slope x[0]) |]
              Jvp = fun x _ t -> lift (Node.multiply (slope x[0])) t[0] }
        // σ'(x) = σ(x)·(1 − σ(x)), from the output.
        | Op.Sigmoid ->
            let slope (y: Node) = Node.multiply y (Node.subtract (Node.scalarLike 1.0 y) y)

            { Forward = fun v -> Tensor.map MapKernel.Sigmoid v[0]
              Vjp = fun _ y g -> [| Node.multiply g (slope y) |]
              Jvp = fun _ y t -> lift (Node.multiply (slope y)) t[0] }
        // tanh'(x) = 1 − tanh(x)², from the output.
        | Op.Tanh ->
            let slope (y: Node) = Node.subtract (Node.scalarLike 1.0 y) (Node.multiply y y)

            { Forward = fun v -> Tensor.map MapKernel.Tanh v[0]
              Vjp = fun _ y g -> [| Node.multiply g (slope y) |]
              Jvp = fun _ y t -> lift (Node.multiply (slope y)) t[0] }
        | Op.SumAll ->
            { Forward = fun v -> Tensor.sumAll v[0]
              Vjp = fun x _ g -> [| Node.expand x[0].Shape g |]
              Jvp = fun _ _ t -> lift Node.sumAll t[0] }
        | Op.Expand shape ->
            { Forward = fun v -> Tensor.expand shape v[0]
              Vjp = fun x _ g -> [| Node.sumTo x[0].Shape g |]
              Jvp = fun _ _ t -> lift (Node.expand shape) t[0] }
        | Op.SumTo shape ->
            { Forward = fun v -> Tensor.sumTo shape v[0]
              Vjp = fun x _ g -> [| Node.expand x[0].Shape g |]
              Jvp = fun _ _ t -> lift (Node.sumTo shape) t[0] }
        | Op.Cast dtype ->
            { Forward = fun v -> Tensor.cast dtype v[0]
              Vjp = fun x _ g -> [| Node.cast x[0].DType g |]
              Jvp = fun _ _ t -> lift (Node.cast dtype) t[0] }
        // At the bound the gradient passes (x >= lower), as PyTorch's clamp.
        | Op.ClampMin lower ->
            let slope (x: Node) = Node.step lower 1.0 x

            { Forward = fun v -> Tensor.map (MapKernel.ClampMin lower) v[0]
              Vjp = fun x _ g -> [| Node.multiply g (slope x[0]) |]
              Jvp = fun x _ t -> lift (Node.multiply (slope x[0])) t[0] }
        | Op.Step(threshold, at) ->
            { Forward = fun v -> Tensor.map (MapKernel.Step(threshold, at)) v[0]
              Vjp = fun _ _ _ -> [| null |]
              Jvp = fun _ _ _ -> null }

/// Smart constructors: each computes the value now and records the op when an input requires
/// grad. Binary ops insert Cast and Expand nodes so that the rules only see equal shapes and dtypes.
[<RequireQualifiedAccess>]
module Node =
    /// The clamp the course applies before log: log(x) is ln(max(x, 1e-8)).
    [<Literal>]
    let LogClamp = 1e-8

    /// A differentiable input whose gradients are reported under the node itself.
    let leaf (value: Tensor) : Node = Node(Op.Leaf, [||], notNull "value" value, true, null)

    /// A differentiable input whose gradients are reported under <paramref name="key"/> (compared by reference).
    let leafWithKey (key: obj) (value: Tensor) : Node = Node(Op.Leaf, [||], notNull "value" value, true, notNull "key" key)

    /// A value that needs no gradient.
    let constant (value: Tensor) : Node = Node(Op.Constant, [||], notNull "value" value, false, null)

    /// The same value, cut off from the graph.
    let detach (x: Node) : Node = if x.RequiresGrad then constant x.Value else x

    /// Records <paramref name="op"/> on conformed inputs (a constant when no input requires grad).
    let internal apply (op: Op) (inputs: Node[]) : Node =
        let values = Array.zeroCreate inputs.Length
        let mutable requiresGrad = false

        for i in 0 .. inputs.Length - 1 do
            values[i] <- inputs[i].Value
            requiresGrad <- requiresGrad || inputs[i].RequiresGrad

        let value = (OpTable.rule op).Forward values
        if requiresGrad then Node(op, inputs, value, true, null) else constant value

    /// A 0-d constant holding <paramref name="value"/> in the dtype of <paramref name="like"/>.
    let scalarLike (value: float) (like: Node) : Node = constant (Tensor.scalarLike value like.Value)

    /// Converts to <paramref name="dtype"/> (the node itself when it already has it).
    let cast (dtype: DType) (x: Node) : Node = if x.DType = dtype then x else apply (Op.Cast dtype) [| x |]

    /// Broadcasts to <paramref name="shape"/> (the node itself when it already has it).
    let expand (shape: Shape) (x: Node) : Node =
        if x.Shape.Equals shape then x
        else
            Tensor.expand shape x.Value |> ignore // validates before anything is recorded
            apply (Op.Expand shape) [| x |]

    /// Sums over broadcast dimensions down to <paramref name="shape"/> (the node itself when it has it).
    let sumTo (shape: Shape) (x: Node) : Node =
        if x.Shape.Equals shape then x
        else
            Tensor.sumTo shape x.Value |> ignore // validates before anything is recorded
            apply (Op.SumTo shape) [| x |]

    let private binary (op: Op) (a: Node) (b: Node) =
        let a, b = notNull "a" a, notNull "b" b
        let shape = Shape.broadcast op.Name a.Shape b.Shape
        let dtype = Tensor.promote (a.Shape.Rank, a.DType) (b.Shape.Rank, b.DType)
        let conform x = x |> cast dtype |> expand shape
        apply op [| conform a; conform b |]

    let private unary (op: Op) (x: Node) = apply op [| notNull "x" x |]

    /// Elementwise sum with broadcasting. Python course: <c>add</c>.
    let add a b = binary Op.Add a b
    /// Elementwise difference with broadcasting. Python course: <c>subtract</c>.
    let subtract a b = binary Op.Subtract a b
    /// Elementwise product with broadcasting. Python course: <c>multiply</c>.
    let multiply a b = binary Op.Multiply a b
    /// Elementwise quotient with broadcasting. Python course: <c>divide</c>.
    let divide a b = binary Op.Divide a b
    /// Elementwise negation.
    let negate x = unary Op.Negate x
    /// x ** exponent for a fixed exponent; the gradient of x ** 0 is 0. Python course: <c>power</c>.
    let power (exponent: float) x = unary (Op.Power exponent) x
    /// e ** x. Python course: <c>exp</c>.
    let exp x = unary Op.Exp x
    /// The natural logarithm without the course's clamp (IEEE: NaN below 0, -inf at 0).
    let logUnclamped x = unary Op.Log x
    /// max(x, lower); the gradient passes where x >= lower.
    let clampMin (lower: float) x = unary (Op.ClampMin lower) x
    /// The course's log: ln(max(x, 1e-8)), so log 0 = ln 1e-8 ≈ −18.42. Its gradient is that of
    /// the clamped function: 1/x for x ≥ 1e-8 and 0 below. Python course: <c>log</c>.
    let log x = logUnclamped (clampMin LogClamp x)
    /// max(x, 0) with relu'(0) = 0. Python course: <c>relu_with_grad</c>.
    let relu x = unary Op.Relu x
    /// 1 / (1 + e^−x), stable for any x. Python course: <c>sigmoid_with_grad</c>.
    let sigmoid x = unary Op.Sigmoid x
    /// Hyperbolic tangent.
    let tanh x = unary Op.Tanh x
    /// Sum of all elements, a 0-d result. Python course: <c>sum_all</c>.
    let sumAll x = unary Op.SumAll x
    /// Mean of all elements, a 0-d result (NaN for an empty tensor). Python course: <c>mean</c>.
    let mean (x: Node) = multiply (sumAll x) (scalarLike (1.0 / float (notNull "x" x).Shape.Size) x)
    /// A constant mask: 1 where x > threshold, 0 where x < threshold, atThreshold at it. Not differentiable.
    let step (threshold: float) (atThreshold: float) (x: Node) : Node =
        constant ((OpTable.rule (Op.Step(threshold, atThreshold))).Forward [| (notNull "x" x).Value |])
