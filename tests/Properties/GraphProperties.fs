/// Random expression DAGs with shared subexpressions (up to 300 nodes) against finite differences,
/// and gradient accumulation on shared nodes.
module TinyTorch.Properties.GraphProperties

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open TinyTorch
open TinyTorch.Functional
open TinyTorch.Properties.Generators

// Every DAG op maps [-1, 1] (elementwise) into [-1, 1] and has derivatives of magnitude at most 2
// there, so no intermediate value leaves a safe domain however deep the DAG: the log and power
// arguments stay ≥ 0.5 and denominators ≥ 1. Relu is the one kink; cases where a relu argument
// comes within 1e-3 of 0 are discarded (see wellConditioned).

/// Unary DAG ops.
type DagUnary =
    | Tanh
    | Sigmoid
    | Negate
    /// 0.36·exp x ∈ [0.13, 0.98]
    | ScaledExp
    /// log(x + 1.5) ∈ [−0.69, 0.92]
    | ShiftedLog
    /// x ** 2
    | Square
    /// (x + 2) ** −1 ∈ [1/3, 1]
    | ShiftedReciprocal
    /// (x + 1.5) ** 0.5 − 1 ∈ [−0.3, 0.59]
    | ShiftedSqrt
    | Relu
    /// the mean of all elements (a 0-d node, broadcast again by later binary ops)
    | Mean

/// Binary DAG ops (operands broadcast: a node is either the DAG's shape or 0-d).
type DagBinary =
    | Multiply
    /// (a + b) / 2
    | Average
    /// (a − b) / 2
    | HalfDifference
    /// a / (b + 2)
    | ShiftedDivide

/// One DAG node, referring to earlier nodes by their position in the pool (leaves first).
type Instruction =
    | Unary of DagUnary * int
    | Binary of DagBinary * int * int

/// Leaves (each of the DAG's shape or 0-d) and the instructions; the root is the sum of the last node.
type Dag =
    { Leaves: (int[] * float[])[]
      Instructions: Instruction[] }

    override d.ToString() =
        sprintf
            "Dag(%d leaves %A, %d instructions %A)"
            d.Leaves.Length
            (d.Leaves |> Array.map fst)
            d.Instructions.Length
            d.Instructions

let private applyUnary (op: DagUnary) (x: Node) : Node =
    match op with
    | Tanh -> Node.tanh x
    | Sigmoid -> Node.sigmoid x
    | Negate -> Node.negate x
    | ScaledExp -> Node.exp x * 0.36
    | ShiftedLog -> Node.log (x + 1.5)
    | Square -> Node.power 2.0 x
    | ShiftedReciprocal -> Node.power -1.0 (x + 2.0)
    | ShiftedSqrt -> Node.power 0.5 (x + 1.5) - 1.0
    | Relu -> Node.relu x
    | Mean -> Node.mean x

let private applyBinary (op: DagBinary) (a: Node) (b: Node) : Node =
    match op with
    | Multiply -> a * b
    | Average -> (a + b) * 0.5
    | HalfDifference -> (a - b) * 0.5
    | ShiftedDivide -> a / (b + 2.0)

/// All pool nodes (leaves first, then one per instruction).
let buildPool (dag: Dag) (leaves: Node[]) : Node[] =
    let pool = Collections.Generic.List<Node>(leaves)

    for instruction in dag.Instructions do
        pool.Add(
            match instruction with
            | Unary(op, i) -> applyUnary op pool[i]
            | Binary(op, i, j) -> applyBinary op pool[i] pool[j]
        )

    pool.ToArray()

/// The DAG's output: the sum of its last node.
let evaluate (dag: Dag) (leaves: Node[]) : Node =
    let pool = buildPool dag leaves
    Node.sumAll pool[pool.Length - 1]

let inputsOf (dag: Dag) = dag.Leaves |> Array.map (fun (dims, values) -> tensorOf dims values)

/// False when some relu argument is within <paramref name="margin"/> of its kink at 0, where
/// central differences with h = 1e-6 could straddle it.
let wellConditioned (margin: float) (dag: Dag) : bool =
    let pool = buildPool dag (inputsOf dag |> Array.map Node.constant)

    dag.Instructions
    |> Array.forall (fun instruction ->
        match instruction with
        | Unary(Relu, i) -> pool[i].Value.ToArray() |> Array.forall (fun v -> abs v >= margin)
        | _ -> true)

/// A reference to an earlier node: half the time one of the last four (long chains), otherwise
/// any (sharing across the whole DAG).
let private referenceGen (count: int) : Gen<int> =
    Gen.frequency [ 1, Gen.choose (max 0 (count - 4), count - 1); 1, Gen.choose (0, count - 1) ]

let private instructionGen (count: int) : Gen<Instruction> =
    Gen.frequency
        [ 2,
          Gen.map2
              (fun op i -> Unary(op, i))
              (Gen.elements
                  [ Tanh
                    Sigmoid
                    Negate
                    ScaledExp
                    ShiftedLog
                    Square
                    ShiftedReciprocal
                    ShiftedSqrt
                    Relu
                    Mean ])
              (referenceGen count)
          3,
          Gen.map3
              (fun op i j -> Binary(op, i, j))
              (Gen.elements [ Multiply; Average; HalfDifference; ShiftedDivide ])
              (referenceGen count)
              (referenceGen count) ]

/// DAGs of 1–3 leaves and up to 300 nodes (three per unit of size).
let dagGen: Gen<Dag> =
    Gen.sized (fun size ->
        gen {
            let! rank = Gen.choose (0, 2)
            let! dims = Gen.arrayOfLength rank (Gen.choose (1, 3))
            let! leafCount = Gen.choose (1, 3)

            let! leaves =
                Gen.arrayOfLength leafCount (
                    gen {
                        let! scalar = Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ]
                        let d = if scalar then [||] else dims
                        let! values = Gen.arrayOfLength (numel d) (floatIn -1.0 1.0)
                        return d, values
                    }
                )

            let! count = Gen.choose (1, max 1 (min 300 (3 * size)))

            let rec instructions (i: int) (acc: Instruction list) =
                if i = count then
                    Gen.constant (List.rev acc)
                else
                    gen {
                        let! instruction = instructionGen (leafCount + i)
                        return! instructions (i + 1) (instruction :: acc)
                    }

            let! body = instructions 0 []

            return
                { Leaves = leaves
                  Instructions = List.toArray body }
        })

/// Shrinks by dropping instructions from the end (references only point backwards, so every
/// prefix is a valid DAG whose root is an earlier node).
let shrinkDag (dag: Dag) : seq<Dag> =
    let n = dag.Instructions.Length

    seq {
        for keep in [ n / 2; n - 1 ] |> List.distinct do
            if keep >= 0 && keep < n then
                yield { dag with Instructions = dag.Instructions[.. keep - 1] }
    }

type DagArbs =
    static member Dag() : Arbitrary<Dag> = Arb.fromGenShrink (dagGen, shrinkDag)

/// How many pool nodes are used by more than one instruction.
let private sharedCount (dag: Dag) =
    dag.Instructions
    |> Array.collect (function
        | Unary(_, i) -> [| i |]
        | Binary(_, i, j) -> [| i; j |])
    |> Array.countBy id
    |> Array.filter (fun (_, n) -> n > 1)
    |> Array.length

[<Property(Arbitrary = [| typeof<DagArbs> |], MaxTest = 100)>]
let ``gradients of random DAGs with shared subexpressions match central differences`` (dag: Dag) =
    let ok = wellConditioned 1e-3 dag

    let check () =
        let mismatches = GradCheck.compare GradCheckOptions.Default (evaluate dag) (inputsOf dag)
        let listed = mismatches |> List.truncate 10 |> List.map string |> String.concat "\n"
        List.isEmpty mismatches |> Prop.label (sprintf "%O\n%s" dag listed)

    (ok ==> lazy (check ()))
    |> Prop.classify (sharedCount dag > 0) "shared subexpressions"
    |> Prop.classify (dag.Instructions.Length >= 100) ">= 100 instructions"

[<Property(Arbitrary = [| typeof<DagArbs> |], MaxTest = 100)>]
let ``forward and reverse mode agree on random DAGs (adjoint identity)`` (dag: Dag) =
    // No finite differences here, so no need to stay away from relu's kink.
    let mismatches = GradCheck.compareAdjoint GradCheckOptions.Default (evaluate dag) (inputsOf dag)
    List.isEmpty mismatches |> Prop.label (sprintf "%O\n%A" dag mismatches)

// ---------------------------------------------------------------------------------------------
// Shared nodes accumulate their gradient contributions.

type ValueArbs =
    static member Tensor() : Arbitrary<Tensor> = Arb.fromGen (shapeGen |> Gen.bind tensorGen)

[<Property(Arbitrary = [| typeof<ValueArbs> |])>]
let ``x times x gives 2x: both uses of a shared node contribute`` (x: Tensor) =
    let leaf = Node.leaf x
    let grads = Reverse.gradients (Node.sumAll (leaf * leaf))
    // 1·x + 1·x is exactly 2x in floating point.
    bitwiseEqual grads[leaf].Value (x * 2.0) |> Prop.label (sprintf "x %O gradient %O" x grads[leaf].Value)

[<Property(Arbitrary = [| typeof<ValueArbs> |])>]
let ``x plus x plus x gives 3 for every element`` (x: Tensor) =
    let leaf = Node.leaf x
    let grads = Reverse.gradients (Node.sumAll (leaf + leaf + leaf))
    grads[leaf].Value.ToArray()
    |> Array.forall ((=) 3.0)
    |> Prop.label (sprintf "gradient %O" grads[leaf].Value)

[<Property(Arbitrary = [| typeof<ValueArbs> |])>]
let ``a leaf shared between two keys-equal leaves accumulates under one key`` (x: Tensor) =
    // Two leaf nodes with the same key (as the façade's Variables do): contributions are summed.
    let key = obj ()
    let a = Node.leafWithKey key x
    let b = Node.leafWithKey key x
    let grads = Reverse.gradients (Node.sumAll (a * 2.0 + b * 3.0))
    (grads.Count = 1 && grads[key].Value.ToArray() |> Array.forall ((=) 5.0))
    |> Prop.label (sprintf "count %d gradient %O" grads.Count grads[key].Value)

[<Fact>]
let ``a diamond with a shared middle node sends the gradient along both paths`` () =
    // y = t·t + t with t = 3x: dy/dx = (2t + 1)·3 = 6t + 3 = 57 at x = 3 (t = 9).
    let x = Node.leaf (Tensor 3.0)
    let t = x * 3.0
    let y = t * t + t
    Assert.Equal(57.0, ((Reverse.gradients y).[x].Value.Item()))

[<Fact>]
let ``a leaf reached with no contribution gets zeros of its shape and dtype`` () =
    // y = sum(a) + sum(b ** 0): b is reached, but d(b^0)/db = 0 sends nothing back.
    let a = Node.leaf (Tensor.FromArray([| 1.0; 2.0 |], 2))
    let b = Node.leaf (Tensor.FromArray([| 1.5f; -2.0f; 3.0f |], 3))
    let grads = Reverse.gradients (Node.sumAll a + Node.sumAll (Node.power 0.0 b))
    Assert.Equal(2, grads.Count)
    Assert.Equal<float[]>([| 1.0; 1.0 |], grads[a].Value.ToArray())
    Assert.Equal<float[]>([| 0.0; 0.0; 0.0 |], grads[b].Value.ToArray())
    Assert.True(b.Shape.Equals grads[b].Value.Shape)
    Assert.Equal(DType.Float32, grads[b].Value.DType)

[<Fact>]
let ``a product's VJP computes nothing for an operand that needs no gradient, and the same gradient for the other`` () =
    // Every transpose combination: the weight's gradient is unchanged whether or not the input needs one.
    let xValue = Tensor.FromArray(Array.init 12 (fun i -> float i - 5.5), 3, 4)
    let wValue = Tensor.FromArray(Array.init 20 (fun i -> 0.25 * float i - 2.0), 4, 5)

    for transA, transB in [ false, false; true, false; false, true; true, true ] do
        let xv = if transA then Tensor.permute [| 1; 0 |] xValue else xValue
        let wv = if transB then Tensor.permute [| 1; 0 |] wValue else wValue
        let rule = OpTable.rule (Op.MatMul(transA, transB))
        let y = Node.constant (rule.Forward [| xv; wv |])
        let g = Node.constant (Tensor.onesLike y.Value)
        let w = Node.leaf wv
        let withConstantInput = rule.Vjp [| Node.constant xv; w |] y g
        let withLeafInput = rule.Vjp [| Node.leaf xv; w |] y g
        Assert.Null(withConstantInput[0])
        Assert.NotNull(withLeafInput[0])
        Assert.Equal<float[]>(withLeafInput[1].Value.ToArray(), withConstantInput[1].Value.ToArray())
