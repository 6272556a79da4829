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
    /// a·b, except that it is 0 wherever a is 0 (even when b is infinite or NaN); used by the rules.
    | SafeMultiply
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
    /// g·step(x) for inputs [g; x], 0 wherever g is 0: the chain-rule product of a cotangent and a
    /// step mask in one pass (relu's and clamp's derivative rules); linear in g, constant in x.
    | StepMultiply of threshold: float * atThreshold: float
    | Abs
    | Sqrt
    | Sin
    | Cos
    | Log1p
    | Expm1
    /// log(1 + e^x), computed stably.
    | Softplus
    | Erf
    | ClampMax of upper: float
    | Maximum
    | Minimum
    /// Where the (constant) condition is nonzero take the first input, else the second.
    | Where of condition: Tensor
    /// The same elements with another shape.
    | Reshape of shape: Shape
    /// Result dimension i is input dimension axes[i].
    | Permute of axes: int[]
    /// Batched op(A)·op(B) over equal batch dimensions; op transposes the last two dimensions when its flag is set.
    | MatMul of transA: bool * transB: bool
    /// Joins the inputs along an axis.
    | Concat of axis: int
    /// Elements start, start + step, … (length of them) along an axis.
    | Slice of axis: int * start: int * length: int * step: int
    /// The adjoint of Slice: the input placed into zeros whose axis has the given size.
    | SliceScatter of axis: int * start: int * step: int * size: int
    /// The slices at the positions of an integer tensor along an axis.
    | IndexSelect of axis: int * index: Tensor
    /// The adjoint of IndexSelect: slices added into zeros whose axis has the given size.
    | IndexAdd of axis: int * index: Tensor * size: int
    /// PyTorch's gather along an axis with an integer index tensor.
    | Gather of axis: int * index: Tensor
    /// The adjoint of Gather: values added into zeros of the given shape at the index.
    | ScatterAdd of axis: int * index: Tensor * shape: Shape
    /// A user-defined primitive with rules of its own (see <see cref="CustomOp"/>).
    | Custom of CustomOp

    /// The op's name as it appears in messages and graphs, e.g. <c>add</c>.
    member this.Name =
        match this with
        | Op.Leaf -> "leaf"
        | Op.Constant -> "constant"
        | Op.Add -> "add"
        | Op.Subtract -> "subtract"
        | Op.Multiply -> "multiply"
        | Op.SafeMultiply -> "safe_multiply"
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
        | Op.StepMultiply _ -> "step_multiply"
        | Op.Abs -> "abs"
        | Op.Sqrt -> "sqrt"
        | Op.Sin -> "sin"
        | Op.Cos -> "cos"
        | Op.Log1p -> "log1p"
        | Op.Expm1 -> "expm1"
        | Op.Softplus -> "softplus"
        | Op.Erf -> "erf"
        | Op.ClampMax _ -> "clamp_max"
        | Op.Maximum -> "maximum"
        | Op.Minimum -> "minimum"
        | Op.Where _ -> "where"
        | Op.Reshape _ -> "reshape"
        | Op.Permute _ -> "permute"
        | Op.MatMul _ -> "matmul"
        | Op.Concat _ -> "concat"
        | Op.Slice _ -> "slice"
        | Op.SliceScatter _ -> "slice_scatter"
        | Op.IndexSelect _ -> "index_select"
        | Op.IndexAdd _ -> "index_add"
        | Op.Gather _ -> "gather"
        | Op.ScatterAdd _ -> "scatter_add"
        | Op.Custom custom -> custom.Name

/// A user-defined primitive op: its forward over tensors, its VJP and, optionally, its JVP, written
/// exactly like the op table's rules (with the Node constructors, so they can be differentiated
/// again). It then works in reverse mode, forward mode (when it has a JVP) and every transform.
[<Sealed; AllowNullLiteral>]
type CustomOp
    (
        name: string,
        forward: Func<Tensor[], Tensor>,
        vjp: Func<Node[], Node, Node, Node[]>,
        jvp: Func<Node[], Node, Node[], Node>
    ) =
    /// The op's name in messages and graphs.
    member _.Name = name
    /// Computes the output value from the input values.
    member _.Forward = forward
    /// (inputs, output, output cotangent) → one cotangent per input (null: none).
    member _.Vjp = vjp
    /// (inputs, output, input tangents (null: zero)) → output tangent; null when the op has no forward-mode rule.
    member _.Jvp = jvp
    /// The name.
    override _.ToString() = name

/// An immutable node of an expression graph: its op, its inputs and its value, computed when the
/// node is built. Nodes have reference identity.
[<Sealed; AllowNullLiteral>]
type Node internal (op: Op, inputs: Node[], value: Tensor, requiresGrad: bool, key: obj) =
    static let mutable lastId = 0L
    let id = Interlocked.Increment(&lastId)

    // Whether a node requires grad and is a leaf follows from its op (constants are the only nodes
    // that do not, and nullary cases are single instances), so neither is stored: a node is 56 bytes.
    do
        if requiresGrad = obj.ReferenceEquals(op, Op.Constant) then
            invalidArg "requiresGrad" "a node requires grad unless it is a constant."

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
    member _.RequiresGrad = not (obj.ReferenceEquals(op, Op.Constant))
    /// For a leaf, the key gradients are reported under (the node itself unless one was given); else null.
    member this.Key = if isNull key && this.IsLeaf then box this else key
    /// True for leaves (differentiable inputs).
    member _.IsLeaf = obj.ReferenceEquals(op, Op.Leaf)
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

/// A per-thread switch of the engine: while it is on, op results are constants even when an input
/// requires grad. Reverse and forward mode turn it on around the built-in rules of a first-order
/// pass (their results are only ever used as values), so the rules can run on the graph's own
/// nodes instead of detached copies of them. Never on while user code runs (custom rules, hooks).
[<Sealed; AllowNullLiteral>]
type internal Recording() =
    [<ThreadStatic; DefaultValue>]
    static val mutable private current: Recording

    /// How many passes on this thread have turned recording off (0: on).
    member val Depth = 0 with get, set

    /// A one-element array the one-input smart constructors lend to a rule's forward (null while lent).
    member val Values1: Tensor[] = Array.zeroCreate 1 with get, set

    /// A two-element array the two-input smart constructors lend to a rule's forward (null while lent).
    member val Values2: Tensor[] = Array.zeroCreate 2 with get, set

    /// True while op results are not recorded on this thread.
    static member IsSuppressed =
        let r = Recording.current
        not (isNull r) && r.Depth <> 0

    /// This thread's switch (a pass fetches it once, then turns it off and on around each rule
    /// with plain field writes).
    static member ForThisThread =
        let r = Recording.current

        if isNull r then
            let r = Recording()
            Recording.current <- r
            r
        else
            r

/// One entry of a small shared cache: a value's bits and what was made for it. Immutable, so a
/// slot can be read and replaced by several threads without locks (a reference is read atomically).
[<Sealed; AllowNullLiteral>]
type internal CacheEntry<'T>(bits: int64, dtype: DType, item: 'T) =
    /// The key: the value's bits (0.0 and -0.0 differ).
    member _.Bits = bits
    /// The key's dtype.
    member _.DType = dtype
    /// The cached item.
    member _.Item = item

/// A small shared ring of cached items keyed by a float and a dtype, replaced oldest first. Lookups
/// take no lock: each slot holds an immutable entry; a race at worst replaces an entry early.
[<Sealed>]
type internal RingCache<'T when 'T: not struct>(size: int) =
    let slots: CacheEntry<'T>[] = Array.zeroCreate size
    let mutable next = 0

    /// The item cached for (bits, dtype), or null.
    member _.TryGet(bits: int64, dtype: DType) : 'T =
        let mutable found = Unchecked.defaultof<'T>
        let mutable i = 0

        while i < slots.Length do
            let e = slots[i]

            if not (isNull e) && e.Bits = bits && e.DType = dtype then
                found <- e.Item
                i <- slots.Length
            else
                i <- i + 1

        found

    /// Caches an item for (bits, dtype).
    member _.Add(bits: int64, dtype: DType, item: 'T) =
        let slot = next
        next <- (slot + 1) % slots.Length
        slots[slot] <- CacheEntry(bits, dtype, item)

/// The rules of one primitive op.
type Rule =
    {
        /// Computes the output value from the input values (shapes and dtypes already conformed).
        Forward: Tensor[] -> Tensor
        /// Given the inputs, the output and the output's cotangent, the cotangent contribution for
        /// each input (null: none; a rule may also return null for an input that does not require
        /// grad, since nothing flows into it). Written with graph constructors, so it can be differentiated.
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

    // Expand and SumTo between shapes the recorded op already proved compatible: no second check.
    let private expandTo (shape: Shape) (x: Node) = if x.Shape.Equals shape then x else Node.apply (Op.Expand shape) [| x |]
    let private sumDownTo (shape: Shape) (x: Node) = if x.Shape.Equals shape then x else Node.apply (Op.SumTo shape) [| x |]

    /// safeMultiply(g, step(x)) in one pass (a StepMultiply node) when g and x match in shape and
    /// dtype, as cotangents and tangents do; the two-op form otherwise.
    let private stepTimes (threshold: float) (at: float) (g: Node) (x: Node) =
        if g.Shape.Equals x.Shape && g.DType = x.DType then Node.apply (Op.StepMultiply(threshold, at)) [| g; x |]
        else Node.safeMultiply g (Node.step threshold at x)

    /// The rules of the ops without parameters, built once on first use. A
    /// race only builds an equal record twice; records are immutable, so sharing them is safe.
    let private cache: Rule[] = Array.zeroCreate 22

    /// The rules of the powers used last (a rule of x^p needs x^(p−1)), keyed by the exponent's bits.
    let private powers = RingCache<Rule>(8)

    /// Forward, VJP and JVP of <paramref name="op"/> (cached for ops without parameters, so the
    /// common ops allocate nothing here).
    let rule (op: Op) : Rule =
        let index =
            match op with
            | Op.Add -> 0
            | Op.Subtract -> 1
            | Op.Multiply -> 2
            | Op.SafeMultiply -> 3
            | Op.Divide -> 4
            | Op.Negate -> 5
            | Op.Exp -> 6
            | Op.Log -> 7
            | Op.Relu -> 8
            | Op.Sigmoid -> 9
            | Op.Tanh -> 10
            | Op.SumAll -> 11
            | Op.Abs -> 12
            | Op.Sqrt -> 13
            | Op.Sin -> 14
            | Op.Cos -> 15
            | Op.Log1p -> 16
            | Op.Expm1 -> 17
            | Op.Softplus -> 18
            | Op.Erf -> 19
            | Op.Maximum -> 20
            | Op.Minimum -> 21
            | _ -> -1

        if index < 0 then
            match op with
            | Op.Power p ->
                let bits = BitConverter.DoubleToInt64Bits p
                let cached = powers.TryGet(bits, DType.Float64)

                if obj.ReferenceEquals(cached, null) then
                    let built = build op
                    powers.Add(bits, DType.Float64, built)
                    built
                else
                    cached
            | _ -> build op
        else
            let cached = Volatile.Read(&cache[index])

            if obj.ReferenceEquals(cached, null) then
                let built = build op
                Volatile.Write(&cache[index], built)
                built
            else
                cached

    /// Builds the rules of <paramref name="op"/>: every op's forward, VJP and JVP, side by side.
    let private build (op: Op) : Rule =
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
              Vjp = fun x _ g -> [| g; (if x[1].RequiresGrad then Node.negate g else null) |]
              Jvp = fun _ _ t -> plus t[0] (lift Node.negate t[1]) }
        | Op.Multiply ->
            { Forward = fun v -> Tensor.zipSame ZipKernel.Multiply v[0] v[1]
              Vjp = fun x _ g -> [| (if x[0].RequiresGrad then Node.safeMultiply g x[1] else null); (if x[1].RequiresGrad then Node.safeMultiply g x[0] else null) |]
              Jvp = fun x _ t -> plus (lift (fun t -> Node.safeMultiply t x[1]) t[0]) (lift (fun t -> Node.safeMultiply t x[0]) t[1]) }
        // The chain-rule product of a cotangent (or tangent) and a local derivative: where the first
        // factor is 0 the product is 0, even against an infinite or NaN derivative, so positions that
        // receive no gradient (the branch a where did not take) stay at 0.
        | Op.SafeMultiply ->
            { Forward = fun v -> Tensor.zipSame ZipKernel.SafeMultiply v[0] v[1]
              Vjp = fun x _ g -> [| (if x[0].RequiresGrad then Node.safeMultiply g x[1] else null); (if x[1].RequiresGrad then Node.safeMultiply g x[0] else null) |]
              Jvp = fun x _ t -> plus (lift (fun t -> Node.safeMultiply t x[1]) t[0]) (lift (fun t -> Node.safeMultiply t x[0]) t[1]) }
        // d(a/b) = da/b − (a/b)·db/b: reuses the output y = a/b and never squares b (no overflow).
        | Op.Divide ->
            let wrtNumerator (x: Node[]) (s: Node) = Node.safeMultiply s (Node.reciprocal x[1])
            let wrtDenominator (x: Node[]) (y: Node) (s: Node) = Node.negate (Node.safeMultiply s (Node.divide y x[1]))

            { Forward = fun v -> Tensor.zipSame ZipKernel.Divide v[0] v[1]
              Vjp = fun x y g -> [| wrtNumerator x g; wrtDenominator x y g |]
              Jvp = fun x y t -> plus (lift (wrtNumerator x) t[0]) (lift (wrtDenominator x y) t[1]) }
        | Op.Negate ->
            { Forward = fun v -> Tensor.map MapKernel.Negate v[0]
              Vjp = fun _ _ g -> [| Node.negate g |]
              Jvp = fun _ _ t -> lift Node.negate t[0] }
        // d(x^p) = p·x^(p−1). x^0 is the constant 1, so its derivative is 0 everywhere, x = 0 included.
        // x^1 is x itself (pow(x, 1) = x for every x, NaN included), so p = 2 needs no second power.
        | Op.Power p ->
            let slope (x: Node) = Node.multiply (if p - 1.0 = 1.0 then x else Node.power (p - 1.0) x) (Node.scalarLike p x)

            { Forward = fun v -> Tensor.map (MapKernel.Power p) v[0]
              Vjp = fun x _ g -> [| (if p = 0.0 then null else Node.safeMultiply g (slope x[0])) |]
              Jvp = fun x _ t -> if p = 0.0 then null else lift (fun t -> Node.multiply t (slope x[0])) t[0] }
        | Op.Exp ->
            { Forward = fun v -> Tensor.map MapKernel.Exp v[0]
              Vjp = fun _ y g -> [| Node.safeMultiply g y |]
              Jvp = fun _ y t -> lift (fun t -> Node.safeMultiply t y) t[0] }
        | Op.Log ->
            { Forward = fun v -> Tensor.map MapKernel.Log v[0]
              Vjp = fun x _ g -> [| Node.safeMultiply g (Node.reciprocal x[0]) |]
              Jvp = fun x _ t -> lift (fun t -> Node.safeMultiply t (Node.reciprocal x[0])) t[0] }
        // relu'(0) = 0, as PyTorch and JAX.
        | Op.Relu ->
            { Forward = fun v -> Tensor.map MapKernel.Relu v[0]
              Vjp = fun x _ g -> [| stepTimes 0.0 0.0 g x[0] |]
              Jvp = fun x _ t -> lift (fun t -> stepTimes 0.0 0.0 t x[0]) t[0] }
        // σ'(x) = σ(x)·σ(−x), from the output: equal to σ(x)·(1 − σ(x)), but 1 − σ(x) rounds to 0 once σ(x)
        // rounds to 1 (x ≳ 17 in float32, 37 in float64), while σ(−x) keeps the tiny true value.
        | Op.Sigmoid ->
            let slope (x: Node) (y: Node) = Node.multiply y (Node.sigmoid (Node.negate x))

            { Forward = fun v -> Tensor.map MapKernel.Sigmoid v[0]
              Vjp = fun x y g -> [| Node.safeMultiply g (slope x[0] y) |]
              Jvp = fun x y t -> lift (fun t -> Node.safeMultiply t (slope x[0] y)) t[0] }
        // tanh'(x) = 1 − tanh(x)², from the output.
        | Op.Tanh ->
            let slope (y: Node) = Node.subtract (Node.scalarLike 1.0 y) (Node.multiply y y)

            { Forward = fun v -> Tensor.map MapKernel.Tanh v[0]
              Vjp = fun _ y g -> [| Node.safeMultiply g (slope y) |]
              Jvp = fun _ y t -> lift (fun t -> Node.safeMultiply t (slope y)) t[0] }
        | Op.SumAll ->
            { Forward = fun v -> Tensor.sumAll v[0]
              Vjp = fun x _ g -> [| expandTo x[0].Shape g |]
              Jvp = fun _ _ t -> lift Node.sumAll t[0] }
        | Op.Expand shape ->
            { Forward = fun v -> Tensor.expand shape v[0]
              Vjp = fun x _ g -> [| sumDownTo x[0].Shape g |]
              Jvp = fun _ _ t -> lift (expandTo shape) t[0] }
        | Op.SumTo shape ->
            { Forward = fun v -> Tensor.sumTo shape v[0]
              Vjp = fun x _ g -> [| expandTo x[0].Shape g |]
              Jvp = fun _ _ t -> lift (sumDownTo shape) t[0] }
        | Op.Cast dtype ->
            { Forward = fun v -> Tensor.cast dtype v[0]
              Vjp = fun x _ g -> [| Node.cast x[0].DType g |]
              Jvp = fun _ _ t -> lift (Node.cast dtype) t[0] }
        // At the bound the gradient passes (x >= lower), as PyTorch's clamp.
        | Op.ClampMin lower ->
            { Forward = fun v -> Tensor.map (MapKernel.ClampMin lower) v[0]
              Vjp = fun x _ g -> [| stepTimes lower 1.0 g x[0] |]
              Jvp = fun x _ t -> lift (fun t -> stepTimes lower 1.0 t x[0]) t[0] }
        | Op.Step(threshold, at) ->
            { Forward = fun v -> Tensor.map (MapKernel.Step(threshold, at)) v[0]
              Vjp = fun _ _ _ -> [| null |]
              Jvp = fun _ _ _ -> null }
        // d(g·step x) = dg·step x: the mask is piecewise constant, so x receives no gradient.
        | Op.StepMultiply(threshold, at) ->
            { Forward = fun v -> Tensor.stepMultiply threshold at v[0] v[1]
              Vjp = fun x _ g -> [| stepTimes threshold at g x[1]; null |]
              Jvp = fun x _ t -> lift (fun t -> stepTimes threshold at t x[1]) t[0] }
        // abs'(0) = 0: the minimum-norm subgradient, as PyTorch.
        | Op.Abs ->
            let slope (x: Node) = Node.mask MapKernel.Sign x

            { Forward = fun v -> Tensor.map MapKernel.Abs v[0]
              Vjp = fun x _ g -> [| Node.safeMultiply g (slope x[0]) |]
              Jvp = fun x _ t -> lift (fun t -> Node.safeMultiply t (slope x[0])) t[0] }
        // sqrt'(x) = 1 / (2·sqrt x), from the output; +inf at 0 (by continuity, as PyTorch).
        | Op.Sqrt ->
            let over (y: Node) (s: Node) = Node.safeMultiply s (Node.divide (Node.scalarLike 0.5 y) y)

            { Forward = fun v -> Tensor.map MapKernel.Sqrt v[0]
              Vjp = fun _ y g -> [| over y g |]
              Jvp = fun _ y t -> lift (over y) t[0] }
        | Op.Sin ->
            { Forward = fun v -> Tensor.map MapKernel.Sin v[0]
              Vjp = fun x _ g -> [| Node.safeMultiply g (Node.cos x[0]) |]
              Jvp = fun x _ t -> lift (fun t -> Node.safeMultiply t (Node.cos x[0])) t[0] }
        | Op.Cos ->
            let slope (x: Node) = Node.negate (Node.sin x)

            { Forward = fun v -> Tensor.map MapKernel.Cos v[0]
              Vjp = fun x _ g -> [| Node.safeMultiply g (slope x[0]) |]
              Jvp = fun x _ t -> lift (fun t -> Node.safeMultiply t (slope x[0])) t[0] }
        | Op.Log1p ->
            let over (x: Node) (s: Node) = Node.safeMultiply s (Node.reciprocal (Node.add x (Node.scalarLike 1.0 x)))

            { Forward = fun v -> Tensor.map MapKernel.Log1p v[0]
              Vjp = fun x _ g -> [| over x[0] g |]
              Jvp = fun x _ t -> lift (over x[0]) t[0] }
        // expm1'(x) = e^x = expm1(x) + 1, from the output.
        | Op.Expm1 ->
            let slope (y: Node) = Node.add y (Node.scalarLike 1.0 y)

            { Forward = fun v -> Tensor.map MapKernel.Expm1 v[0]
              Vjp = fun _ y g -> [| Node.safeMultiply g (slope y) |]
              Jvp = fun _ y t -> lift (fun t -> Node.safeMultiply t (slope y)) t[0] }
        // softplus'(x) = σ(x).
        | Op.Softplus ->
            { Forward = fun v -> Tensor.map MapKernel.Softplus v[0]
              Vjp = fun x _ g -> [| Node.safeMultiply g (Node.sigmoid x[0]) |]
              Jvp = fun x _ t -> lift (fun t -> Node.safeMultiply t (Node.sigmoid x[0])) t[0] }
        // erf'(x) = 2/√π · e^(−x²).
        | Op.Erf ->
            let slope (x: Node) = Node.multiply (Node.exp (Node.negate (Node.multiply x x))) (Node.scalarLike (2.0 / sqrt Math.PI) x)

            { Forward = fun v -> Tensor.map MapKernel.Erf v[0]
              Vjp = fun x _ g -> [| Node.safeMultiply g (slope x[0]) |]
              Jvp = fun x _ t -> lift (fun t -> Node.safeMultiply t (slope x[0])) t[0] }
        // At the bound the gradient passes (x <= upper), as PyTorch's clamp.
        | Op.ClampMax upper ->
            let slope (x: Node) = Node.mask (MapKernel.StepBelow(upper, 1.0)) x

            { Forward = fun v -> Tensor.map (MapKernel.ClampMax upper) v[0]
              Vjp = fun x _ g -> [| Node.safeMultiply g (slope x[0]) |]
              Jvp = fun x _ t -> lift (fun t -> Node.safeMultiply t (slope x[0])) t[0] }
        // Ties split the gradient evenly: ½ to each operand.
        | Op.Maximum ->
            let first (x: Node[]) = Node.mask (MapKernel.Step(0.0, 0.5)) (Node.subtract x[0] x[1])
            let second (x: Node[]) = Node.mask (MapKernel.Step(0.0, 0.5)) (Node.subtract x[1] x[0])

            { Forward = fun v -> Tensor.zipSame ZipKernel.Maximum v[0] v[1]
              Vjp = fun x _ g -> [| Node.safeMultiply g (first x); Node.safeMultiply g (second x) |]
              Jvp = fun x _ t -> plus (lift (fun t -> Node.safeMultiply t (first x)) t[0]) (lift (fun t -> Node.safeMultiply t (second x)) t[1]) }
        | Op.Minimum ->
            let first (x: Node[]) = Node.mask (MapKernel.Step(0.0, 0.5)) (Node.subtract x[1] x[0])
            let second (x: Node[]) = Node.mask (MapKernel.Step(0.0, 0.5)) (Node.subtract x[0] x[1])

            { Forward = fun v -> Tensor.zipSame ZipKernel.Minimum v[0] v[1]
              Vjp = fun x _ g -> [| Node.safeMultiply g (first x); Node.safeMultiply g (second x) |]
              Jvp = fun x _ t -> plus (lift (fun t -> Node.safeMultiply t (first x)) t[0]) (lift (fun t -> Node.safeMultiply t (second x)) t[1]) }
        // The cotangent is selected, never multiplied by a mask: a NaN or ∞ produced in the branch
        // that was not chosen cannot leak into the gradient.
        | Op.Where condition ->
            let zeros (like: Node) = Node.constant (Tensor.zerosLike like.Value)
            let choose (a: Node) (b: Node) = Node.apply (Op.Where condition) [| a; b |]

            { Forward = fun v -> Tensor.whereSame condition v[0] v[1]
              Vjp = fun _ _ g -> [| choose g (zeros g); choose (zeros g) g |]
              Jvp =
                fun x _ t ->
                    if isNull t[0] && isNull t[1] then null
                    else choose (if isNull t[0] then zeros x[0] else t[0]) (if isNull t[1] then zeros x[1] else t[1]) }
        | Op.Reshape shape ->
            { Forward = fun v -> Tensor.reshape shape v[0]
              Vjp = fun x _ g -> [| Node.apply (Op.Reshape x[0].Shape) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.Reshape shape) [| t |]) t[0] }
        | Op.Permute axes ->
            let inverse = Array.zeroCreate axes.Length
            axes |> Array.iteri (fun i a -> inverse[a] <- i)

            { Forward = fun v -> Tensor.permute axes v[0]
              Vjp = fun _ _ g -> [| Node.apply (Op.Permute inverse) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.Permute axes) [| t |]) t[0] }
        // C = op(A)·op(B): dA = dC·op(B)ᵀ and dB = op(A)ᵀ·dC, stored back in each operand's own
        // layout by choosing the transpose flags; no transposed copy is ever made.
        | Op.MatMul(transA, transB) ->
            let mm ta tb (a: Node) (b: Node) = Node.apply (Op.MatMul(ta, tb)) [| a; b |]

            { Forward = fun v -> Tensor.matmulSame transA transB v[0] v[1]
              Vjp =
                fun x _ g ->
                    // Only the inputs that need a gradient get one (a network's input needs none: its product is
                    // as large as the weights' and would be thrown away).
                    [| (if not x[0].RequiresGrad then null
                        elif transA then mm transB true x[1] g
                        else mm false (not transB) g x[1])
                       (if not x[1].RequiresGrad then null
                        elif transB then mm true transA g x[0]
                        else mm (not transA) false x[0] g) |]
              Jvp = fun x _ t -> plus (lift (fun t -> mm transA transB t x[1]) t[0]) (lift (mm transA transB x[0]) t[1]) }
        | Op.Concat axis ->
            { Forward = fun v -> Tensor.concat axis v
              Vjp =
                fun x _ g ->
                    let mutable offset = 0

                    [| for input in x do
                           let size = input.Shape[axis]
                           yield Node.apply (Op.Slice(axis, offset, size, 1)) [| g |]
                           offset <- offset + size |]
              Jvp =
                fun x _ t ->
                    if Array.forall isNull t then null
                    else
                        Node.apply (Op.Concat axis) (Array.map2 (fun (input: Node) (t: Node) -> if isNull t then Node.constant (Tensor.zerosLike input.Value) else t) x t) }
        | Op.Slice(axis, start, length, step) ->
            { Forward = fun v -> Tensor.slice axis start length step v[0]
              Vjp = fun x _ g -> [| Node.apply (Op.SliceScatter(axis, start, step, x[0].Shape[axis])) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.Slice(axis, start, length, step)) [| t |]) t[0] }
        | Op.SliceScatter(axis, start, step, size) ->
            { Forward = fun v -> Tensor.sliceScatter axis start step size v[0]
              Vjp = fun x _ g -> [| Node.apply (Op.Slice(axis, start, x[0].Shape[axis], step)) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.SliceScatter(axis, start, step, size)) [| t |]) t[0] }
        | Op.IndexSelect(axis, index) ->
            { Forward = fun v -> Tensor.indexSelect axis index v[0]
              Vjp = fun x _ g -> [| Node.apply (Op.IndexAdd(axis, index, x[0].Shape[axis])) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.IndexSelect(axis, index)) [| t |]) t[0] }
        | Op.IndexAdd(axis, index, size) ->
            { Forward = fun v -> Tensor.indexAdd axis index size v[0]
              Vjp = fun _ _ g -> [| Node.apply (Op.IndexSelect(axis, index)) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.IndexAdd(axis, index, size)) [| t |]) t[0] }
        | Op.Gather(axis, index) ->
            { Forward = fun v -> Tensor.gather axis index v[0]
              Vjp = fun x _ g -> [| Node.apply (Op.ScatterAdd(axis, index, x[0].Shape)) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.Gather(axis, index)) [| t |]) t[0] }
        | Op.Custom custom ->
            { Forward = fun v -> custom.Forward.Invoke v
              Vjp = fun x y g -> custom.Vjp.Invoke(x, y, g)
              Jvp =
                fun x y t ->
                    if isNull custom.Jvp then
                        raise (NotSupportedException(sprintf "custom op %s has no JVP, so forward mode cannot pass through it; give it one." custom.Name))

                    custom.Jvp.Invoke(x, y, t) }
        | Op.ScatterAdd(axis, index, shape) ->
            { Forward = fun v -> Tensor.scatterAdd axis index shape v[0]
              Vjp = fun _ _ g -> [| Node.apply (Op.Gather(axis, index)) [| g |] |]
              Jvp = fun _ _ t -> lift (fun t -> Node.apply (Op.ScatterAdd(axis, index, shape)) [| t |]) t[0] }

/// Smart constructors: each computes the value now and records the op when an input requires
/// grad. Binary ops insert Cast and Expand nodes so that the rules only see equal shapes and dtypes.
[<RequireQualifiedAccess>]
module Node =
    /// The clamp the course applies before log: log(x) is ln(max(x, 1e-8)).
    [<Literal>]
    let LogClamp = 1e-8

    let private requireGradable (value: Tensor) =
        if not value.IsFloatingPoint then
            raise (InvalidOperationException(sprintf "Only floating-point tensors can require gradients; this tensor has dtype %O (shape %O). Convert it first (e.g. ToFloat64()) or pass requiresGrad = false." value.DType value.Shape))

        value

    /// A differentiable input whose gradients are reported under the node itself.
    let leaf (value: Tensor) : Node = Node(Op.Leaf, Array.Empty(), requireGradable (notNull "value" value), true, null)

    /// A differentiable input whose gradients are reported under <paramref name="key"/> (compared by reference).
    let leafWithKey (key: obj) (value: Tensor) : Node = Node(Op.Leaf, Array.Empty(), requireGradable (notNull "value" value), true, notNull "key" key)

    /// A value that needs no gradient.
    let constant (value: Tensor) : Node = Node(Op.Constant, Array.Empty(), notNull "value" value, false, null)

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
        if Anomaly.isActive () then Anomaly.checkForward op.Name values value
        if requiresGrad && not Recording.IsSuppressed then Node(op, inputs, value, true, null) else constant value

    // apply1 and apply2 run built-in rules only (custom ops go through apply), whose forwards read
    // their values array and never keep it: so they borrow this thread's array instead of allocating
    // one per op. The slot is emptied while lent (a nested call allocates its own) and the array
    // cleared afterwards (it never keeps a tensor alive).

    /// <see cref="apply"/> for one input, with no input array unless the result is recorded.
    let private apply1 (op: Op) (x: Node) : Node =
        let r = Recording.ForThisThread
        let values = match r.Values1 with null -> Array.zeroCreate 1 | v -> v
        r.Values1 <- null
        values[0] <- x.Value
        let value = (OpTable.rule op).Forward values
        if Anomaly.isActive () then Anomaly.checkForward op.Name values value
        values[0] <- null
        r.Values1 <- values
        if x.RequiresGrad && r.Depth = 0 then Node(op, [| x |], value, true, null) else constant value

    /// <see cref="apply"/> for two inputs, with no input array unless the result is recorded.
    let private apply2 (op: Op) (a: Node) (b: Node) : Node =
        let r = Recording.ForThisThread
        let values = match r.Values2 with null -> Array.zeroCreate 2 | v -> v
        r.Values2 <- null
        values[0] <- a.Value
        values[1] <- b.Value
        let value = (OpTable.rule op).Forward values
        if Anomaly.isActive () then Anomaly.checkForward op.Name values value
        values[0] <- null
        values[1] <- null
        r.Values2 <- values
        if (a.RequiresGrad || b.RequiresGrad) && r.Depth = 0 then Node(op, [| a; b |], value, true, null) else constant value

    /// The 0-d constants made last by <see cref="scalarLike"/> inside first-order backward passes.
    let private scalars = RingCache<Node>(16)

    /// The 0-d values made last by <see cref="scalarLike"/>.
    let private scalarValues = RingCache<Tensor>(16)

    /// A 0-d constant holding <paramref name="value"/> in the dtype of <paramref name="like"/>. Recent
    /// values are reused (tensors are immutable), so <c>x * 2.0</c> in a loop allocates only its node.
    /// Inside a first-order backward pass (recording off) the nodes themselves are reused too: they are
    /// never part of a recorded graph there. Recorded graphs always get a node of their own (graph
    /// exports count them).
    let scalarLike (value: float) (like: Node) : Node =
        let dtype = like.DType
        // The key is the value as stored (rounded to float32 for float32), bit for bit: 0.0 and -0.0 differ.
        let bits = BitConverter.DoubleToInt64Bits(if dtype = DType.Float32 then float (float32 value) else value)
        let suppressed = Recording.IsSuppressed
        let cached = if suppressed then scalars.TryGet(bits, dtype) else null

        if isNull cached then
            let mutable tensor = scalarValues.TryGet(bits, dtype)

            if isNull tensor then
                tensor <- Tensor.scalarLike value like.Value
                scalarValues.Add(bits, dtype, tensor)

            let made = constant tensor
            if suppressed then scalars.Add(bits, dtype, made)
            made
        else
            cached

    /// Converts to <paramref name="dtype"/> (the node itself when it already has it).
    let cast (dtype: DType) (x: Node) : Node = if x.DType = dtype then x else apply (Op.Cast dtype) [| x |]

    /// Broadcasts to <paramref name="shape"/> (the node itself when it already has it).
    let expand (shape: Shape) (x: Node) : Node =
        if x.Shape.Equals shape then x
        else
            // Validates before anything is recorded (Tensor.expand throws the shape error).
            if not (Shape.broadcastsTo x.Shape shape) then Tensor.expand shape x.Value |> ignore
            apply (Op.Expand shape) [| x |]

    /// Sums over broadcast dimensions down to <paramref name="shape"/> (the node itself when it has it).
    let sumTo (shape: Shape) (x: Node) : Node =
        if x.Shape.Equals shape then x
        else
            // Validates before anything is recorded (Tensor.sumTo throws the shape error).
            if not (Shape.broadcastsTo shape x.Shape) then Tensor.sumTo shape x.Value |> ignore
            apply (Op.SumTo shape) [| x |]

    let private binary (op: Op) (a: Node) (b: Node) =
        let a, b = notNull "a" a, notNull "b" b
        // (The op's name is only looked up for the message.)
        if not a.Value.IsFloatingPoint then Tensor.requireFloat op.Name a.Value
        if not b.Value.IsFloatingPoint then Tensor.requireFloat op.Name b.Value

        if a.DType = b.DType && a.Shape.Equals b.Shape then
            apply2 op a b
        else
            let shape = Shape.broadcast op.Name a.Shape b.Shape
            let dtype = Tensor.promote (a.Shape.Rank, a.DType) (b.Shape.Rank, b.DType)
            apply2 op (expand shape (cast dtype a)) (expand shape (cast dtype b))

    let private unary (op: Op) (x: Node) =
        if not (notNull "x" x).Value.IsFloatingPoint then Tensor.requireFloat op.Name x.Value
        apply1 op x

    /// Elementwise sum with broadcasting. Python course: <c>add</c>.
    let add a b = binary Op.Add a b
    /// Elementwise difference with broadcasting. Python course: <c>subtract</c>.
    let subtract a b = binary Op.Subtract a b
    /// Elementwise product with broadcasting. Python course: <c>multiply</c>.
    let multiply a b = binary Op.Multiply a b
    /// Elementwise quotient with broadcasting. Python course: <c>divide</c>.
    let divide a b = binary Op.Divide a b
    /// a·b with broadcasting, except 0 wherever a is 0 (even when b is infinite or NaN): the product
    /// the derivative rules use, so that a zero gradient never turns into NaN.
    let safeMultiply a b = binary Op.SafeMultiply a b
    /// 1 / x.
    let reciprocal (x: Node) = divide (scalarLike 1.0 x) x
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
    /// A constant computed elementwise from x's value (masks inside derivative rules): not differentiable.
    let internal mask (kernel: MapKernel) (x: Node) : Node = constant (Tensor.map kernel x.Value)

    /// A constant mask: 1 where x > threshold, 0 where x < threshold, atThreshold at it. Not differentiable.
    let step (threshold: float) (atThreshold: float) (x: Node) : Node =
        constant ((OpTable.rule (Op.Step(threshold, atThreshold))).Forward [| (notNull "x" x).Value |])

    // ---- Elementwise primitives ----

    /// |x| with abs′(0) = 0. PyTorch: <c>torch.abs</c>.
    let abs x = unary Op.Abs x
    /// √x; its gradient at 0 is +inf. PyTorch: <c>torch.sqrt</c>.
    let sqrt x = unary Op.Sqrt x
    /// x². PyTorch: <c>torch.square</c>.
    let square x = power 2.0 x
    /// sin x. PyTorch: <c>torch.sin</c>.
    let sin x = unary Op.Sin x
    /// cos x. PyTorch: <c>torch.cos</c>.
    let cos x = unary Op.Cos x
    /// ln(1 + x), accurate near 0. PyTorch: <c>torch.log1p</c>.
    let log1p x = unary Op.Log1p x
    /// e^x − 1, accurate near 0. PyTorch: <c>torch.expm1</c>.
    let expm1 x = unary Op.Expm1 x
    /// ln(1 + e^x), never overflowing. PyTorch: <c>torch.nn.functional.softplus</c>.
    let softplus x = unary Op.Softplus x
    /// The error function. PyTorch: <c>torch.erf</c>.
    let erf x = unary Op.Erf x
    /// min(x, upper); the gradient passes where x <= upper.
    let clampMax (upper: float) x = unary (Op.ClampMax upper) x
    /// Clamps into [lower, upper]; the gradient passes at both bounds. PyTorch: <c>torch.clamp</c>.
    let clamp (lower: float) (upper: float) x =
        if lower > upper then
            raise (ArgumentException(sprintf "clamp: lower bound %g is above upper bound %g; pass lower <= upper." lower upper))

        clampMax upper (clampMin lower x)
    /// Elementwise maximum with broadcasting; ties give ½ of the gradient to each. PyTorch: <c>torch.maximum</c>.
    let maximum a b = binary Op.Maximum a b
    /// Elementwise minimum with broadcasting; ties give ½ of the gradient to each. PyTorch: <c>torch.minimum</c>.
    let minimum a b = binary Op.Minimum a b

    /// Where <paramref name="condition"/> is nonzero take a, else b, with broadcasting of all three.
    /// The backward pass selects the gradient rather than multiplying by a mask, so a NaN or ∞ in
    /// the branch not taken never reaches the gradient. PyTorch: <c>torch.where</c>.
    let where (condition: Tensor) (a: Node) (b: Node) : Node =
        let condition, a, b = notNull "condition" condition, notNull "a" a, notNull "b" b
        Tensor.requireFloat "where" a.Value
        Tensor.requireFloat "where" b.Value
        let shape = Shape.broadcast "where" (Shape.broadcast "where" condition.Shape a.Shape) b.Shape
        let dtype = Tensor.promote (a.Shape.Rank, a.DType) (b.Shape.Rank, b.DType)
        let conform x = x |> cast dtype |> expand shape
        apply (Op.Where(Tensor.expand shape condition)) [| conform a; conform b |]

    /// x for x > 0, slope·x otherwise. PyTorch: <c>torch.nn.functional.leaky_relu</c> (default slope 0.01).
    let leakyRelu (slope: float) (x: Node) = where (Tensor.map (MapKernel.Step(0.0, 0.0)) (notNull "x" x).Value) x (multiply x (scalarLike slope x))
    /// x for x > 0, alpha·(e^x − 1) otherwise. PyTorch: <c>torch.nn.functional.elu</c> (default alpha 1).
    let elu (alpha: float) (x: Node) = where (Tensor.map (MapKernel.Step(0.0, 0.0)) (notNull "x" x).Value) x (multiply (expm1 x) (scalarLike alpha x))
    /// log σ(x) = −softplus(−x), stable for any x. PyTorch: <c>torch.nn.functional.logsigmoid</c>.
    let logSigmoid x = negate (softplus (negate x))
    /// GELU: x·Φ(x) exactly (with erf) or, with <paramref name="tanhApproximation"/>, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    /// PyTorch: <c>torch.nn.functional.gelu(x, approximate='none' | 'tanh')</c>.
    let gelu (tanhApproximation: bool) (x: Node) =
        let half = multiply x (scalarLike 0.5 x)

        if tanhApproximation then
            let inner = multiply (add x (multiply (power 3.0 x) (scalarLike 0.044715 x))) (scalarLike (Math.Sqrt(2.0 / Math.PI)) x)
            multiply half (add (tanh inner) (scalarLike 1.0 x))
        else
            multiply half (add (erf (multiply x (scalarLike (1.0 / Math.Sqrt 2.0) x))) (scalarLike 1.0 x))

    // ---- Shapes and axes ----

    /// The axis in 0 .. rank − 1 for an axis that may count from the end (−1 is the last).
    let normalizeAxis (operation: string) (rank: int) (axis: int) =
        if axis < -rank || axis >= rank then
            let valid =
                if rank = 0 then "it has no axes; reshape it to [1] first"
                else sprintf "valid axes: %d to %d" -rank (rank - 1)

            raise (ArgumentOutOfRangeException("axis", axis, sprintf "%s: axis %d is out of range for a tensor of rank %d (%s)." operation axis rank valid))

        if axis < 0 then axis + rank else axis

    let private normalizeAxes (operation: string) (rank: int) (axes: int[]) =
        let axes = notNull "axes" axes |> Array.map (normalizeAxis operation rank)

        if (Array.distinct axes).Length <> axes.Length then
            raise (ArgumentException(sprintf "%s: axes [%s] repeat an axis; name each axis once." operation (String.Join(", ", axes)), "axes"))

        axes

    /// The same elements in a new shape; one dimension may be −1 and is then inferred. PyTorch: <c>torch.reshape</c>.
    let reshape (dims: int[]) (x: Node) : Node =
        let x, dims = notNull "x" x, Array.copy (notNull "dims" dims)
        let inferred = dims |> Array.filter ((=) -1) |> Array.length
        let known = dims |> Array.filter ((<>) -1) |> Array.fold (*) 1

        if inferred > 1 then raise (ArgumentException(sprintf "reshape: only one dimension can be -1, but [%s] has %d." (String.Join(", ", dims)) inferred, "dims"))
        if dims |> Array.exists (fun d -> d < -1) then raise (ArgumentException(sprintf "reshape: dimensions must be -1 or at least 0, but got [%s]." (String.Join(", ", dims)), "dims"))

        if inferred = 1 then
            if known = 0 || x.Shape.Size % known <> 0 then
                raise (ShapeMismatchException("reshape", x.Shape, Shape.Of(dims |> Array.map (max 0)), -1, sprintf "reshape: cannot reshape %O (%d elements) to [%s]: no size for -1 makes the element counts match." x.Shape x.Shape.Size (String.Join(", ", dims))))

            dims[Array.IndexOf(dims, -1)] <- x.Shape.Size / known

        let shape = Shape.Of dims

        if shape.Size <> x.Shape.Size then
            raise (ShapeMismatchException("reshape", x.Shape, shape, -1, sprintf "reshape: cannot reshape %O (%d elements) to %O (%d elements); the element counts must match." x.Shape x.Shape.Size shape shape.Size))

        if shape.Equals x.Shape then x else apply (Op.Reshape shape) [| x |]

    /// Flattens dimensions startAxis..endAxis (inclusive, negative from the end) into one. PyTorch: <c>torch.flatten</c>.
    let flatten (startAxis: int) (endAxis: int) (x: Node) : Node =
        let dims = (notNull "x" x).Shape.ToArray()

        if dims.Length = 0 then reshape [| 1 |] x
        else
            let s, e = normalizeAxis "flatten" dims.Length startAxis, normalizeAxis "flatten" dims.Length endAxis
            if s > e then raise (ArgumentException(sprintf "flatten: start axis %d comes after end axis %d." startAxis endAxis))
            reshape (Array.concat [ dims[.. s - 1]; [| Array.fold (*) 1 dims[s..e] |]; dims[e + 1 ..] ]) x

    /// Inserts a dimension of size 1 at axis (−1 appends). PyTorch: <c>torch.unsqueeze</c>.
    let unsqueeze (axis: int) (x: Node) : Node =
        let dims = (notNull "x" x).Shape.ToArray()
        let axis = normalizeAxis "unsqueeze" (dims.Length + 1) axis
        reshape (Array.insertAt axis 1 dims) x

    /// Removes dimension axis, which must have size 1. PyTorch: <c>torch.squeeze(x, dim)</c>.
    let squeezeAxis (axis: int) (x: Node) : Node =
        let dims = (notNull "x" x).Shape.ToArray()
        let axis = normalizeAxis "squeeze" dims.Length axis

        if dims[axis] <> 1 then
            raise (ArgumentException(sprintf "squeeze: dimension %d of %O has size %d, not 1; only size-1 dimensions can be removed." axis x.Shape dims[axis], "axis"))

        reshape (Array.removeAt axis dims) x

    /// Removes every dimension of size 1. PyTorch: <c>torch.squeeze</c>.
    let squeeze (x: Node) : Node = reshape ((notNull "x" x).Shape.ToArray() |> Array.filter ((<>) 1)) x

    /// Reorders dimensions: result dimension i is x's dimension axes[i]. PyTorch: <c>torch.permute</c>.
    let permute (axes: int[]) (x: Node) : Node =
        let rank = (notNull "x" x).Shape.Rank
        let axes = normalizeAxes "permute" rank axes

        if axes.Length <> rank then
            raise (ArgumentException(sprintf "permute: %d axes given for a tensor of rank %d (shape %O); name every axis once." axes.Length rank x.Shape, "axes"))

        if axes |> Array.indexed |> Array.forall (fun (i, a) -> i = a) then x else apply (Op.Permute axes) [| x |]

    /// Swaps two dimensions. PyTorch: <c>torch.transpose</c>.
    let transpose (axis0: int) (axis1: int) (x: Node) : Node =
        let rank = (notNull "x" x).Shape.Rank
        let a, b = normalizeAxis "transpose" rank axis0, normalizeAxis "transpose" rank axis1
        let axes = Array.init rank id
        axes[a] <- b
        axes[b] <- a
        permute axes x

    /// Broadcasts to a shape (NumPy rules). PyTorch: <c>torch.broadcast_to</c> / <c>Tensor.expand</c>.
    let broadcastTo (shape: Shape) (x: Node) : Node = expand (notNull "shape" shape) (notNull "x" x)

    /// Matrix product with NumPy/PyTorch semantics: 1-D·1-D is a dot product; a 1-D first operand
    /// is a row and a 1-D second operand a column (that dimension is then dropped); N-D operands are
    /// stacks of matrices whose batch dimensions broadcast. PyTorch: <c>torch.matmul</c>.
    let matmul (a: Node) (b: Node) : Node =
        let a, b = notNull "a" a, notNull "b" b
        Tensor.requireFloat "matmul" a.Value
        Tensor.requireFloat "matmul" b.Value

        if a.Shape.Rank = 0 || b.Shape.Rank = 0 then
            raise (ShapeMismatchException("matmul", a.Shape, b.Shape, -1, sprintf "matmul: cannot multiply %O by %O: both operands need at least one dimension (use multiply for scalars)." a.Shape b.Shape))

        let a2 = if a.Shape.Rank = 1 then reshape [| 1; a.Shape[0] |] a else a
        let b2 = if b.Shape.Rank = 1 then reshape [| b.Shape[0]; 1 |] b else b
        let ra, rb = a2.Shape.Rank, b2.Shape.Rank
        let m, k = a2.Shape[ra - 2], a2.Shape[ra - 1]
        let k2, n = b2.Shape[rb - 2], b2.Shape[rb - 1]

        if k <> k2 then
            raise (ShapeMismatchException("matmul", a.Shape, b.Shape, -1, sprintf "matmul: cannot multiply %O by %O: inner dimensions %d and %d differ." a.Shape b.Shape k k2))

        let batchA = Shape.Of(a2.Shape.ToArray()[.. ra - 3])
        let batchB = Shape.Of(b2.Shape.ToArray()[.. rb - 3])
        let batch =
            try
                (Shape.broadcast "matmul" batchA batchB).ToArray()
            with :? ShapeMismatchException as e ->
                raise (ShapeMismatchException("matmul", a.Shape, b.Shape, e.Dimension, sprintf "matmul: cannot multiply %O by %O: their batch dimensions %O and %O do not broadcast (sizes must be equal or one of them 1)." a.Shape b.Shape batchA batchB))
        let dtype = Tensor.promote (a.Shape.Rank, a.DType) (b.Shape.Rank, b.DType)
        let a3 = a2 |> cast dtype |> expand (Shape.Of(Array.append batch [| m; k |]))
        let b3 = b2 |> cast dtype |> expand (Shape.Of(Array.append batch [| k; n |]))
        let product = apply (Op.MatMul(false, false)) [| a3; b3 |]
        let dims = product.Shape.ToArray()
        let dims = if b.Shape.Rank = 1 then dims[.. dims.Length - 2] else dims
        let dims = if a.Shape.Rank = 1 then Array.removeAt (dims.Length - (if b.Shape.Rank = 1 then 1 else 2)) dims else dims
        reshape dims product

    /// x·weightᵀ + bias for a weight [out, in] and an optional bias [out] (null for none): a 2-D
    /// input multiplies the stored weight with a transpose flag, so no transposed copy is made.
    /// PyTorch: <c>torch.nn.functional.linear</c>.
    let linear (x: Node) (weight: Node) (bias: Node) : Node =
        let x, weight = notNull "x" x, notNull "weight" weight

        if weight.Shape.Rank <> 2 || x.Shape.Rank = 0 || x.Shape[x.Shape.Rank - 1] <> weight.Shape[weight.Shape.Rank - 1] then
            raise (ShapeMismatchException("linear", x.Shape, weight.Shape, -1, sprintf "linear: input %O does not fit weight %O: the weight must be [out_features, in_features] and the input's last dimension must equal in_features." x.Shape weight.Shape))

        if not (isNull bias) && (bias.Shape.Rank <> 1 || bias.Shape[0] <> weight.Shape[0]) then
            raise (ShapeMismatchException("linear", weight.Shape, bias.Shape, -1, sprintf "linear: bias %O does not fit weight %O: it must be [%d]." bias.Shape weight.Shape weight.Shape[0]))

        Tensor.requireFloat "linear" x.Value
        Tensor.requireFloat "linear" weight.Value

        let product =
            if x.Shape.Rank = 2 then
                let dtype = Tensor.promote (x.Shape.Rank, x.DType) (weight.Shape.Rank, weight.DType)
                apply (Op.MatMul(false, true)) [| cast dtype x; cast dtype weight |]
            else
                matmul x (transpose 0 1 weight)

        if isNull bias then product else add product bias

    /// Applies a user-defined op to its inputs (values computed now, recorded when an input requires grad).
    let custom (op: CustomOp) (inputs: Node[]) : Node =
        let op, inputs = notNull "op" op, notNull "inputs" inputs
        inputs |> Array.iteri (fun i x -> Tensor.requireFloat op.Name (notNull (sprintf "inputs[%d]" i) x).Value)
        apply (Op.Custom op) inputs

    /// The outer product of two vectors: [m] ⊗ [n] → [m, n]. PyTorch: <c>torch.outer</c>.
    let outer (a: Node) (b: Node) : Node =
        let a, b = notNull "a" a, notNull "b" b

        if a.Shape.Rank <> 1 || b.Shape.Rank <> 1 then
            raise (ShapeMismatchException("outer", a.Shape, b.Shape, -1, sprintf "outer: needs two vectors, but got shapes %O and %O." a.Shape b.Shape))

        multiply (reshape [| a.Shape[0]; 1 |] a) (reshape [| 1; b.Shape[0] |] b)

    /// Joins tensors along an existing axis; all other dimensions must agree. PyTorch: <c>torch.cat</c>.
    let concat (axis: int) (xs: Node[]) : Node =
        let xs = notNull "xs" xs

        if xs.Length = 0 then raise (ArgumentException("concat: needs at least one tensor.", "xs"))

        xs |> Array.iteri (fun i x -> notNull (sprintf "xs[%d]" i) x |> ignore; Tensor.requireFloat "concat" x.Value)
        let rank = xs[0].Shape.Rank

        if rank = 0 then raise (ArgumentException("concat: scalars have no axis to join along; unsqueeze them first (or use stack).", "xs"))

        let axis = normalizeAxis "concat" rank axis

        for x in xs do
            let compatible = x.Shape.Rank = rank && Seq.forall (fun d -> d = axis || x.Shape[d] = xs[0].Shape[d]) (seq { 0 .. rank - 1 })

            if not compatible then
                raise (ShapeMismatchException("concat", xs[0].Shape, x.Shape, axis, sprintf "concat: shapes %O and %O cannot be joined along axis %d: every other dimension must be equal." xs[0].Shape x.Shape axis))

        let dtype = xs |> Array.fold (fun d x -> if d = DType.Float64 || x.DType = DType.Float64 then DType.Float64 else d) DType.Float32
        if xs.Length = 1 then xs[0] else apply (Op.Concat axis) (xs |> Array.map (cast dtype))

    /// Joins equally shaped tensors along a new axis. PyTorch: <c>torch.stack</c>.
    let stack (axis: int) (xs: Node[]) : Node =
        let xs = notNull "xs" xs

        if xs.Length = 0 then raise (ArgumentException("stack: needs at least one tensor.", "xs"))

        for x in xs do
            if not ((notNull "xs" x).Shape.Equals xs[0].Shape) then
                raise (ShapeMismatchException("stack", xs[0].Shape, x.Shape, -1, sprintf "stack: shapes %O and %O differ; stack needs equal shapes." xs[0].Shape x.Shape))

        let axis = normalizeAxis "stack" (xs[0].Shape.Rank + 1) axis
        concat axis (xs |> Array.map (unsqueeze axis))

    /// Elements start, start + step, … along axis, length of them (start may be negative, from the end). PyTorch: <c>x[..., start:start+length*step:step]</c>.
    let slice (axis: int) (start: int) (length: int) (step: int) (x: Node) : Node =
        let x = notNull "x" x
        let axis = normalizeAxis "slice" x.Shape.Rank axis
        let size = x.Shape[axis]
        let requested = start
        let start = if start < 0 then start + size else start

        if step < 1 then raise (ArgumentOutOfRangeException("step", step, sprintf "slice: step must be at least 1, but got %d." step))
        if length < 0 then raise (ArgumentOutOfRangeException("length", length, sprintf "slice: length must be 0 or more, but got %d." length))

        if start < 0 || (length > 0 && (start >= size || start + (length - 1) * step >= size)) || start > size then
            raise (ArgumentOutOfRangeException("start", start, sprintf "slice: %d elements from index %d with step %d do not fit in axis %d of size %d (shape %O)." length requested step axis size x.Shape))

        if start = 0 && length = size && step = 1 then x else apply (Op.Slice(axis, start, length, step)) [| x |]

    /// The contiguous elements start .. start + length − 1 along axis. PyTorch: <c>torch.narrow</c>.
    let narrow (axis: int) (start: int) (length: int) (x: Node) : Node = slice axis start length 1 x

    /// The slice at one index along axis, with that axis removed (index may be negative). PyTorch: <c>torch.select</c>.
    let select (axis: int) (index: int) (x: Node) : Node =
        let x = notNull "x" x
        let axis = normalizeAxis "select" x.Shape.Rank axis
        let size = x.Shape[axis]

        if index < -size || index >= size then
            raise (ArgumentOutOfRangeException("index", index, sprintf "select: index %d is out of range for axis %d of size %d (shape %O)." index axis size x.Shape))

        squeezeAxis axis (slice axis (if index < 0 then index + size else index) 1 1 x)

    let private checkIndex (operation: string) (index: Tensor) (size: int) =
        if index.IsFloatingPoint then
            raise (ArgumentException(sprintf "%s: indices must be an Int32 or Int64 tensor, but got %O." operation index.DType, "index"))

        for i in 0 .. index.Size - 1 do
            let v = index.GetInt64Flat i

            if v < 0L || v >= int64 size then
                raise (ArgumentOutOfRangeException("index", v, sprintf "%s: index %d is out of range for a dimension of size %d." operation v size))

    /// The slices at the given positions (an integer vector) along axis; repeats allowed. PyTorch: <c>torch.index_select</c>.
    let indexSelect (axis: int) (index: Tensor) (x: Node) : Node =
        let x, index = notNull "x" x, notNull "index" index
        let axis = normalizeAxis "index_select" x.Shape.Rank axis

        if index.Rank <> 1 then
            raise (ArgumentException(sprintf "index_select: the index must be a vector, but has shape %O." index.Shape, "index"))

        checkIndex "index_select" index x.Shape[axis]
        apply (Op.IndexSelect(axis, index)) [| x |]

    /// PyTorch's gather: out[…, j, …] = x[…, index[…, j, …], …] along axis; index is an integer
    /// tensor of x's rank whose other dimensions equal x's. PyTorch: <c>torch.gather</c>.
    let gather (axis: int) (index: Tensor) (x: Node) : Node =
        let x, index = notNull "x" x, notNull "index" index
        let axis = normalizeAxis "gather" x.Shape.Rank axis
        let fits = index.Rank = x.Shape.Rank && Seq.forall (fun d -> d = axis || index.Shape[d] = x.Shape[d]) (seq { 0 .. x.Shape.Rank - 1 })

        if not fits then
            raise (ShapeMismatchException("gather", x.Shape, index.Shape, axis, sprintf "gather: an index of shape %O does not fit an input of shape %O along axis %d: it needs the same rank and the same sizes except along that axis." index.Shape x.Shape axis))

        checkIndex "gather" index x.Shape[axis]
        apply (Op.Gather(axis, index)) [| x |]

    // ---- Reductions (composites: no rules of their own) ----

    /// The shape with the given (normalized) axes set to 1 (keepDim) or removed.
    let private reducedDims (dims: int[]) (axes: int[]) (keepDim: bool) =
        if keepDim then dims |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d)
        else dims |> Array.indexed |> Array.filter (fun (i, _) -> not (Array.contains i axes)) |> Array.map snd

    /// Sum over the given axes (all when empty is not meant: pass every axis, or use sumAll). PyTorch: <c>torch.sum(x, dim, keepdim)</c>.
    let sum (axes: int[]) (keepDim: bool) (x: Node) : Node =
        let x = notNull "x" x
        let axes = normalizeAxes "sum" x.Shape.Rank axes
        let dims = x.Shape.ToArray()
        let kept = sumTo (Shape.Of(reducedDims dims axes true)) x
        if keepDim then kept else reshape (reducedDims dims axes false) kept

    /// Mean over the given axes. PyTorch: <c>torch.mean(x, dim, keepdim)</c>.
    let meanAlong (axes: int[]) (keepDim: bool) (x: Node) : Node =
        let x = notNull "x" x
        let axes = normalizeAxes "mean" x.Shape.Rank axes
        let count = axes |> Array.fold (fun n a -> n * x.Shape[a]) 1
        multiply (sum axes keepDim x) (scalarLike (1.0 / float count) x)

    /// Largest (or smallest) element along axis; the gradient goes to the first position holding it.
    let private extremeAlong (largest: bool) (operation: string) (axis: int) (keepDim: bool) (x: Node) : Node =
        let x = notNull "x" x
        Tensor.requireFloat operation x.Value
        let axis = normalizeAxis operation x.Shape.Rank axis

        if x.Shape[axis] = 0 then
            raise (ArgumentException(sprintf "%s: axis %d of %O is empty; a maximum or minimum needs at least one element." operation axis x.Shape))

        let picked = apply (Op.Gather(axis, Tensor.argExtreme largest axis x.Value)) [| x |]
        if keepDim then picked else squeezeAxis axis picked

    /// Maximum along axis; the gradient goes to the selected (first maximal) position. PyTorch: <c>torch.amax</c> / <c>torch.max(x, dim).values</c>.
    let maxAlong (axis: int) (keepDim: bool) (x: Node) = extremeAlong true "max" axis keepDim x
    /// Minimum along axis; the gradient goes to the selected (first minimal) position. PyTorch: <c>torch.amin</c> / <c>torch.min(x, dim).values</c>.
    let minAlong (axis: int) (keepDim: bool) (x: Node) = extremeAlong false "min" axis keepDim x

    let private extremeAll (largest: bool) (operation: string) (x: Node) : Node =
        let x = notNull "x" x
        Tensor.requireFloat operation x.Value

        if x.Shape.Size = 0 then
            raise (ArgumentException(sprintf "%s: the tensor is empty (shape %O); a maximum or minimum needs at least one element." operation x.Shape))

        let flat = x.Value.ToArray()
        let best = if largest then Array.max flat else Array.min flat
        let ties = Tensor.WrapAs(DType.Float64, x.Shape, flat |> Array.map (fun v -> if v = best then 1.0 else 0.0))
        let count = flat |> Array.sumBy (fun v -> if v = best then 1.0 else 0.0)
        // Σ over tied positions / k: the value is the extreme, and each of the k ties gets 1/k of the gradient.
        multiply (sumAll (where ties x (constant (Tensor.zerosLike x.Value)))) (scalarLike (1.0 / count) x)

    /// Maximum of all elements; k tied maxima share the gradient evenly (1/k each). PyTorch: <c>torch.max(x)</c>.
    let maxAll (x: Node) = extremeAll true "max" x
    /// Minimum of all elements; k tied minima share the gradient evenly (1/k each). PyTorch: <c>torch.min(x)</c>.
    let minAll (x: Node) = extremeAll false "min" x

    /// Positions of the maxima along axis (first on ties) as an int64 tensor; no gradient. PyTorch: <c>torch.argmax</c>.
    let argMax (axis: int) (keepDim: bool) (x: Tensor) : Tensor =
        let axis = normalizeAxis "argmax" (notNull "x" x).Rank axis
        let r = Tensor.argExtreme true axis x
        if keepDim then r else Tensor.reshape (Shape.Of(Array.removeAt axis r.Shape.Dims)) r

    /// Positions of the minima along axis (first on ties) as an int64 tensor; no gradient. PyTorch: <c>torch.argmin</c>.
    let argMin (axis: int) (keepDim: bool) (x: Tensor) : Tensor =
        let axis = normalizeAxis "argmin" (notNull "x" x).Rank axis
        let r = Tensor.argExtreme false axis x
        if keepDim then r else Tensor.reshape (Shape.Of(Array.removeAt axis r.Shape.Dims)) r

    /// Variance over axes; <paramref name="unbiased"/> divides by n − 1 (Bessel), else by n. PyTorch: <c>torch.var(x, dim, unbiased, keepdim)</c>.
    let variance (axes: int[]) (unbiased: bool) (keepDim: bool) (x: Node) : Node =
        let x = notNull "x" x
        let axes = normalizeAxes "var" x.Shape.Rank axes
        let count = axes |> Array.fold (fun n a -> n * x.Shape[a]) 1
        let centered = subtract x (meanAlong axes true x)
        let divisor = if unbiased then float (count - 1) else float count
        multiply (sum axes keepDim (multiply centered centered)) (scalarLike (1.0 / divisor) x)

    /// Standard deviation over axes (the square root of <see cref="variance"/>). PyTorch: <c>torch.std</c>.
    let std (axes: int[]) (unbiased: bool) (keepDim: bool) (x: Node) : Node = sqrt (variance axes unbiased keepDim x)

    /// The maximum over axes (kept as size 1) as a constant, 0 where it is infinite: subtracting it
    /// makes every exponent ≤ 0, and since it cancels exactly it needs no gradient.
    let private maxShift (axes: int[]) (x: Node) : Node =
        let largest = axes |> Array.fold (fun (m: Tensor) a -> Tensor.gather a (Tensor.argExtreme true a m) m) x.Value
        let finite = largest.ToArray() |> Array.map (fun v -> if Double.IsFinite v then v else 0.0)
        constant (Tensor.cast x.DType (Tensor.WrapAs(DType.Float64, largest.Shape, finite)))

    /// log Σ e^x over axes, shifted by the maximum so that it never overflows. PyTorch: <c>torch.logsumexp</c>.
    let logSumExp (axes: int[]) (keepDim: bool) (x: Node) : Node =
        let x = notNull "x" x
        let axes = normalizeAxes "logsumexp" x.Shape.Rank axes
        let shift = maxShift axes x
        let kept = add (logUnclamped (sum axes true (exp (subtract x shift)))) shift
        if keepDim then kept else reshape (reducedDims (x.Shape.ToArray()) axes false) kept

    /// log softmax along axis: (x − max) − log Σ e^(x − max), stable and accurate for logits of any
    /// size (the maximum is never added back). PyTorch: <c>torch.log_softmax</c>.
    let logSoftmax (axis: int) (x: Node) : Node =
        let axis = normalizeAxis "log_softmax" (notNull "x" x).Shape.Rank axis
        let shifted = subtract x (maxShift [| axis |] x)
        subtract shifted (logUnclamped (sum [| axis |] true (exp shifted)))

    /// Softmax along axis: e^(x − logsumexp x), stable for logits of any size. PyTorch: <c>torch.softmax</c>.
    let softmax (axis: int) (x: Node) : Node =
        let axis = normalizeAxis "softmax" (notNull "x" x).Shape.Rank axis
        exp (logSoftmax axis x)

    /// Inverted dropout: in training, zeroes each element with probability p (drawn from
    /// <paramref name="random"/>, no hidden global state) and scales the rest by 1/(1 − p); the identity
    /// otherwise. PyTorch: <c>torch.nn.functional.dropout</c>.
    let dropout (p: float) (random: Random) (training: bool) (x: Node) : Node =
        let x = notNull "x" x

        if not (p >= 0.0 && p <= 1.0) then
            raise (ArgumentOutOfRangeException("p", p, sprintf "dropout: p must be in [0, 1], but got %g." p))

        if not training || p = 0.0 then x
        else
            let random = notNull "random" random
            let keep = 1.0 - p
            let scale = if keep = 0.0 then 0.0 else 1.0 / keep
            let mask = Array.init x.Shape.Size (fun _ -> if random.NextDouble() < keep then scale else 0.0)
            multiply x (constant (Tensor.cast x.DType (Tensor.WrapAs(DType.Float64, x.Shape, mask))))
