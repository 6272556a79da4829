namespace TinyTorch.Functional

open System
open TinyTorch

/// Step and tolerances of a gradient check. The defaults are PyTorch gradcheck's, for float64.
type GradCheckOptions =
    {
        /// Central-difference step, scaled by max(1, |x|) per element.
        Step: float
        /// atol in |analytic − numeric| ≤ atol + rtol·|numeric|.
        AbsoluteTolerance: float
        /// rtol in |analytic − numeric| ≤ atol + rtol·|numeric|.
        RelativeTolerance: float
        /// Seed of the random cotangents and directions.
        Seed: int
    }

    /// h = 1e-6, atol = 1e-5, rtol = 1e-3, seed 0.
    static member Default =
        { Step = 1e-6
          AbsoluteTolerance = 1e-5
          RelativeTolerance = 1e-3
          Seed = 0 }

/// One disagreement found by a gradient check.
type GradCheckMismatch =
    {
        /// Which check: "finite-difference", "random-direction" or "adjoint".
        Check: string
        /// The input index (-1 when the check covers all inputs at once).
        Input: int
        /// The element index within the input, row-major (-1 when the check covers all elements).
        Element: int
        /// The value from the engine's derivative rules.
        Analytic: float
        /// The reference value (finite differences, or the JVP side of the adjoint identity).
        Reference: float
        /// The largest difference allowed.
        Bound: float
    }

    /// A one-line description.
    override m.ToString() =
        sprintf "%s check failed at input %d, element %d: analytic %.10g, reference %.10g, |difference| %.3g > bound %.3g" m.Check m.Input m.Element m.Analytic m.Reference (abs (m.Analytic - m.Reference)) m.Bound

/// A gradient check found disagreements.
type GradientCheckException(mismatches: GradCheckMismatch list) =
    inherit Exception(
        sprintf "gradient check failed (%d mismatches):\n%s" mismatches.Length (mismatches |> List.truncate 10 |> List.map string |> String.concat "\n")
    )

    /// Every disagreement found.
    member _.Mismatches = mismatches

/// A public gradient checker for any function built from nodes: central differences in float64,
/// a random-direction mode for large inputs, and the JVP/VJP adjoint identity (no step size).
[<RequireQualifiedAccess>]
module GradCheck =

    let private dot (a: Tensor) (b: Tensor) =
        let mutable s = 0.0

        for i in 0 .. a.Size - 1 do
            s <- s + a.GetFlat i * b.GetFlat i

        s

    let private random (rng: Random) (shape: Shape) =
        Tensor.FromArray(Array.init shape.Size (fun _ -> rng.NextDouble() * 2.0 - 1.0), shape.ToArray())

    let private withElement (x: Tensor) (index: int) (value: float) =
        let data = x.ToArray()
        data[index] <- value
        Tensor.FromArray(data, x.Shape.ToArray())

    let private evaluate (f: Node[] -> Node) (inputs: Tensor[]) = (f (Array.map Node.constant inputs)).Value

    let private prepare (f: Node[] -> Node) (inputs: Tensor[]) =
        let inputs = Array.map (Tensor.cast DType.Float64) (notNull "inputs" inputs)
        let leaves = Array.map Node.leaf inputs
        let output = (notNull "f" f) leaves
        inputs, leaves, output

    let private gradientOf (grads: Gradients) (leaf: Node) =
        match grads.TryFind leaf with
        | Some g -> g.Value
        | None -> Tensor.zerosLike leaf.Value

    let private within (o: GradCheckOptions) analytic numeric =
        abs (analytic - numeric) <= o.AbsoluteTolerance + o.RelativeTolerance * abs numeric

    /// Central-difference estimate of vᵀ·∂f/∂inputs[index], element by element, in float64.
    let numericGradient (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) (cotangent: Tensor) (index: int) : float[] =
        let inputs = Array.map (Tensor.cast DType.Float64) inputs
        let x = inputs[index]

        Array.init x.Size (fun k ->
            let xk = x.GetFlat k
            let h = options.Step * max 1.0 (abs xk)
            let at value = evaluate f (Array.updateAt index (withElement x k value) inputs)
            (dot cotangent (at (xk + h)) - dot cotangent (at (xk - h))) / (2.0 * h))

    /// For every input element (input index, element index, analytic, numeric): the gradient of vᵀf
    /// (v = 1 for a scalar output, else random) from reverse mode beside its central difference.
    let private elementwise (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) =
        let inputs, leaves, output = prepare f inputs
        let rng = Random(options.Seed)
        let v = if output.Shape.Size = 1 then Tensor.onesLike output.Value else random rng output.Shape
        let grads = if output.RequiresGrad then Some(Reverse.gradientsFor v output) else None

        [ for i in 0 .. inputs.Length - 1 do
              let analytic =
                  match grads with
                  | Some g -> gradientOf g leaves[i]
                  | None -> Tensor.zerosLike inputs[i]

              let numeric = numericGradient options f inputs v i

              for k in 0 .. numeric.Length - 1 do
                  yield struct (i, k, analytic.GetFlat k, numeric[k]) ]

    /// Compares every element of the gradient of vᵀf (v = 1 for a scalar output, else random) with
    /// central differences. Inputs are converted to float64. Returns the mismatches (empty: passed).
    let compare (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckMismatch list =
        [ for struct (i, k, a, n) in elementwise options f inputs do
              if not (within options a n) then
                  { Check = "finite-difference"
                    Input = i
                    Element = k
                    Analytic = a
                    Reference = n
                    Bound = options.AbsoluteTolerance + options.RelativeTolerance * abs n } ]

    /// Random-direction mode (for large inputs): compares vᵀ·J·u from reverse mode with the central
    /// difference of vᵀf along u, for one random u and v. atol is scaled by ‖u‖·‖v‖.
    let compareDirection (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckMismatch list =
        let inputs, leaves, output = prepare f inputs
        let rng = Random(options.Seed)
        let v = random rng output.Shape
        let u = inputs |> Array.map (fun x -> random rng x.Shape)

        let analytic =
            if output.RequiresGrad then
                let grads = Reverse.gradientsFor v output
                Array.fold2 (fun s leaf ui -> s + dot (gradientOf grads leaf) ui) 0.0 leaves u
            else
                0.0

        let largest = inputs |> Array.collect (fun x -> x.ToArray()) |> Array.fold (fun m x -> max m (abs x)) 1.0
        let h = options.Step * largest
        let along (sign: float) = evaluate f (Array.map2 (fun (x: Tensor) (d: Tensor) -> x + d * (sign * h)) inputs u)
        let numeric = (dot v (along 1.0) - dot v (along -1.0)) / (2.0 * h)
        let norm (t: Tensor) = sqrt (dot t t)
        let scale = max 1.0 (norm v * sqrt (Array.sumBy (fun t -> dot t t) u))
        let bound = options.AbsoluteTolerance * scale + options.RelativeTolerance * abs numeric

        if abs (analytic - numeric) <= bound then []
        else
            [ { Check = "random-direction"
                Input = -1
                Element = -1
                Analytic = analytic
                Reference = numeric
                Bound = bound } ]

    /// The adjoint identity ⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩ for random u, v: checks every VJP against its JVP
    /// with no step size. The bound is rounding only: 1e-9 relative to the terms' size, or 1e-5 when
    /// part of the graph computes in float32.
    let compareAdjoint (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckMismatch list =
        let inputs, leaves, output = prepare f inputs
        let rng = Random(options.Seed)
        let v = random rng output.Shape
        let u = inputs |> Array.map (fun x -> random rng x.Shape)

        if not output.RequiresGrad then []
        else
            let ju = Forward.tangent (Array.zip leaves u) output
            let jtv = Reverse.gradientsFor v output
            let forward = dot v ju
            let reverse = Array.fold2 (fun s leaf ui -> s + dot (gradientOf jtv leaf) ui) 0.0 leaves u
            // Only rounding separates the two sides: 1e-9 relative in float64, float32 rounding
            // (1e-5 relative) when any node of the graph computes in float32.
            let float32Inside = Reverse.topologicalOrder output |> Seq.exists (fun n -> n.DType = DType.Float32)
            let relative = if float32Inside then 1e-5 else 1e-9
            let bound = relative * max 1.0 (max (abs forward) (abs reverse))

            if abs (forward - reverse) <= bound then []
            else
                [ { Check = "adjoint"
                    Input = -1
                    Element = -1
                    Analytic = reverse
                    Reference = forward
                    Bound = bound } ]

    /// The mismatches of all three checks: finite differences, random direction, adjoint identity.
    let compareAll (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckMismatch list =
        compare options f inputs @ compareDirection options f inputs @ compareAdjoint options f inputs

    /// Runs the finite-difference, random-direction and adjoint checks; true when all pass.
    let check (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : bool = List.isEmpty (compareAll options f inputs)

    /// Runs all three checks and throws <see cref="GradientCheckException"/> listing every mismatch.
    let assertCorrect (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : unit =
        match compareAll options f inputs with
        | [] -> ()
        | mismatches -> raise (GradientCheckException mismatches)

    /// The largest absolute and relative differences between the engine's gradient and central
    /// differences (as <see cref="compare"/> computes them), for reports: (maxAbsolute, maxRelative),
    /// the relative error taken against max(|numeric|, 1e-12).
    let maxErrors (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : struct (float * float) =
        elementwise options f inputs
        |> List.fold
            (fun (struct (worstAbsolute, worstRelative)) (struct (_, _, a, n)) ->
                let difference = abs (a - n)
                struct (max worstAbsolute difference, max worstRelative (difference / max (abs n) 1e-12)))
            (struct (0.0, 0.0))
