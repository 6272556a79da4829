namespace TinyTorch.Functional

open System
open System.Collections.Generic
open System.Globalization
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

    /// A copy with another central-difference step (for C#, where F#'s <c>with</c> is not available).
    member o.WithStep(step: float) : GradCheckOptions = { o with Step = step }

    /// A copy with other tolerances: |analytic − numeric| ≤ absolute + relative·|numeric|.
    member o.WithTolerance(absolute: float, relative: float) : GradCheckOptions =
        { o with
            AbsoluteTolerance = absolute
            RelativeTolerance = relative }

    /// A copy with another seed for the random cotangents and directions.
    member o.WithSeed(seed: int) : GradCheckOptions = { o with Seed = seed }

    /// The tolerance and step in words, e.g. <c>atol 1e-05, rtol 0.001, step 1e-06</c>.
    override o.ToString() =
        String.Format(CultureInfo.InvariantCulture, "atol {0:g3}, rtol {1:g3}, step {2:g3}, seed {3}", o.AbsoluteTolerance, o.RelativeTolerance, o.Step, o.Seed)

/// One disagreement found by a gradient check.
type GradCheckMismatch =
    {
        /// Which check: "finite-difference", "random-direction" or "adjoint"; prefixed with
        /// "second-order " for the checks of the gradient's own derivatives.
        Check: string
        /// The input index (-1 when the check covers all inputs at once). In a second-order check,
        /// the index equal to the number of inputs stands for the output cotangent v.
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
        let reference = if m.Check.EndsWith "adjoint" then "JVP side" else "numeric"

        String.Format(
            CultureInfo.InvariantCulture,
            "{0} check failed at input {1}, element {2}: analytic {3:g10}, {4} {5:g10}, |difference| {6:g3} > bound {7:g3}",
            m.Check,
            m.Input,
            m.Element,
            m.Analytic,
            reference,
            m.Reference,
            abs (m.Analytic - m.Reference),
            m.Bound
        )

/// Messages of the gradient checker.
module internal GradCheckText =
    let private invariant (format: string) ([<ParamArray>] args: obj[]) = String.Format(CultureInfo.InvariantCulture, format, args)

    /// Row-major multi-index of a flat position, e.g. <c>[1, 0]</c>.
    let multiIndex (shape: Shape) (flat: int) =
        let dims = shape.ToArray()
        let index = Array.zeroCreate dims.Length
        let mutable rest = flat

        for d in dims.Length - 1 .. -1 .. 0 do
            if dims[d] > 0 then
                index[d] <- rest % dims[d]
                rest <- rest / dims[d]

        "[" + String.Join(", ", index) + "]"

    /// Which input a mismatch is about, with its shape and the element's multi-index when known.
    let private location (shapes: Shape[]) (arity: int) (secondOrder: bool) (m: GradCheckMismatch) =
        if m.Input < 0 then
            "all inputs together (one random direction u, random output cotangent v)"
        else
            let name =
                if secondOrder && m.Input = arity then "the output cotangent v (input " + string m.Input + " of the gradient map)"
                else "input " + string m.Input

            let shape = if m.Input < shapes.Length then shapes[m.Input] else null
            let shapeText = if isNull shape then "" else invariant " (shape {0})" [| shape |]

            let element =
                if m.Element < 0 then ""
                elif isNull shape || shape.Rank <= 1 then invariant ", element {0}" [| m.Element |]
                else invariant ", element {0} {1}" [| m.Element; multiIndex shape m.Element |]

            name + shapeText + element

    /// One mismatch in words: check, input, element, analytic and reference values, difference, bound.
    let describe (shapes: Shape[]) (arity: int) (m: GradCheckMismatch) =
        let secondOrder = m.Check.StartsWith "second-order"
        let reference = if m.Check.EndsWith "adjoint" then "JVP side" else "numeric"

        invariant
            "{0} check failed at {1}: analytic {2:g10}, {3} {4:g10}, |difference| {5:g3} > tolerance {6:g3}"
            [| m.Check
               location shapes arity secondOrder m
               m.Analytic
               reference
               m.Reference
               abs (m.Analytic - m.Reference)
               m.Bound |]

    /// The pass rule with the numbers, e.g. <c>|analytic − numeric| ≤ atol 1e-05 + rtol 0.001·|numeric|, step 1e-06·max(1, |x|)</c>.
    let rule (order: int) (o: GradCheckOptions) =
        invariant
            "pass rule |analytic − numeric| ≤ atol {0:g3} + rtol {1:g3}·|numeric|{4}, central-difference step {2:g3}·max(1, |x|), seed {3}"
            [| o.AbsoluteTolerance
               o.RelativeTolerance
               o.Step
               o.Seed
               (if order = 1 then " (adjoint identity: rounding only, 1e-9 relative)" else "") |]

    /// The whole failure report: a header with the rule, then at most 10 mismatches.
    let failure (order: int) (options: GradCheckOptions option) (shapes: Shape[]) (arity: int) (mismatches: GradCheckMismatch list) =
        let header =
            invariant
                "{0}gradient check failed ({1} mismatch{2})"
                [| (if order = 2 then "second-order " else "")
                   mismatches.Length
                   (if mismatches.Length = 1 then "" else "es") |]

        let header =
            match options with
            | Some o -> header + "; " + rule order o + ":"
            | None -> header + ":"

        let lines = mismatches |> List.truncate 10 |> List.map (fun m -> "  " + describe shapes arity m)
        let more = if mismatches.Length > 10 then [ invariant "  … and {0} more" [| mismatches.Length - 10 |] ] else []
        String.Join("\n", header :: lines @ more)

/// The outcome of a gradient check: whether it passed, every mismatch, and the options it ran with.
/// <c>ToString()</c> is the full report (input, element, analytic and numeric values, tolerance, step).
[<Sealed>]
type GradCheckResult internal (order: int, options: GradCheckOptions, arity: int, shapes: Shape[], mismatches: GradCheckMismatch list) =
    /// True when every check agreed within the tolerance.
    member _.Passed = List.isEmpty mismatches
    /// Every disagreement found (empty when passed).
    member _.Mismatches: IReadOnlyList<GradCheckMismatch> = mismatches
    /// 1 for a check of the gradient, 2 for a check of the gradient's own derivatives (gradgrad).
    member _.Order = order
    /// The step, tolerances and seed the check ran with.
    member _.Options = options
    /// The shapes of the checked inputs, in order.
    member _.InputShapes: IReadOnlyList<Shape> = Array.truncate arity shapes
    /// One mismatch in words, naming the input (with its shape) and the element (with its multi-index).
    member _.Describe(mismatch: GradCheckMismatch) : string = GradCheckText.describe shapes arity mismatch
    /// Throws <see cref="GradientCheckException"/> with this report when the check failed.
    member this.ThrowIfFailed() : unit =
        if not this.Passed then raise (GradientCheckException this)
    member internal _.MismatchList = mismatches
    /// "gradient check passed" with the rule, or the failure report.
    override _.ToString() =
        if List.isEmpty mismatches then
            sprintf "%s gradient check passed for %d input(s); %s" (if order = 2 then "second-order" else "first-order") arity (GradCheckText.rule order options)
        else
            GradCheckText.failure order (Some options) shapes arity mismatches

/// A gradient check found disagreements. The message names, for each mismatch, the check, the input
/// index, the element, the analytic and numeric values and the tolerance.
and GradientCheckException private (mismatches: GradCheckMismatch list, message: string) =
    inherit Exception(message)

    /// An exception listing <paramref name="mismatches"/> (without the options they were found with).
    new(mismatches: GradCheckMismatch list) = GradientCheckException(mismatches, GradCheckText.failure 1 None [||] (-1) mismatches)

    /// An exception carrying a failed check's report (the message includes the tolerance and step).
    new(result: GradCheckResult) = GradientCheckException(result.MismatchList, string result)

    /// Every disagreement found.
    member _.Mismatches: IReadOnlyList<GradCheckMismatch> = mismatches

/// A public gradient checker for any function built from nodes: central differences in float64,
/// a random-direction mode for large inputs, the JVP/VJP adjoint identity (no step size), and the
/// same checks one order up for the gradient's own derivatives (PyTorch's gradgradcheck).
/// (Compiled as <c>GradCheckModule</c>, like <c>NodeModule</c>, so that C#'s <c>TinyTorch.GradCheck</c> never clashes with it.)
[<RequireQualifiedAccess; CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
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

    let private toFloat64 (inputs: Tensor[]) =
        notNull "inputs" inputs |> Array.mapi (fun i x -> Tensor.cast DType.Float64 (notNull (sprintf "inputs[%d]" i) x))

    let private prepare (f: Node[] -> Node) (inputs: Tensor[]) =
        let inputs = toFloat64 inputs
        let leaves = Array.map Node.leaf inputs
        let output = (notNull "f" f) leaves

        if isNull output then
            raise (InvalidOperationException("gradient check: the checked function returned null; return its output node."))

        inputs, leaves, output

    let private gradientOf (grads: Gradients) (leaf: Node) =
        match grads.TryFind leaf with
        | Some g -> g.Value
        | None -> Tensor.zerosLike leaf.Value

    let private within (o: GradCheckOptions) analytic numeric =
        abs (analytic - numeric) <= o.AbsoluteTolerance + o.RelativeTolerance * abs numeric

    /// Central-difference estimate of vᵀ·∂f/∂inputs[index], element by element, in float64.
    let numericGradient (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) (cotangent: Tensor) (index: int) : float[] =
        let inputs = toFloat64 inputs
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

    /// True when forward mode can run through the graph: no user-defined op without a JVP.
    let private hasForwardMode (output: Node) =
        Reverse.topologicalOrder output
        |> Seq.forall (fun n ->
            match n.Op with
            | Op.Custom c -> not (isNull c.Jvp)
            | _ -> true)

    /// The adjoint identity ⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩ for random u, v: checks every VJP against its JVP
    /// with no step size. The bound is rounding only: 1e-9 relative to the terms' size, or 1e-5 when
    /// part of the graph computes in float32. Skipped (no mismatches) when the graph contains a
    /// user-defined op without a JVP, since forward mode cannot pass through it.
    let compareAdjoint (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckMismatch list =
        let inputs, leaves, output = prepare f inputs
        let rng = Random(options.Seed)
        let v = random rng output.Shape
        let u = inputs |> Array.map (fun x -> random rng x.Shape)

        if not output.RequiresGrad || not (hasForwardMode output) then []
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

    /// The first-order gradient map of <paramref name="f"/> as a function of its inputs and the output
    /// cotangent v: (x₁, …, xₙ, v) ↦ the gradients of ⟨v, f(x)⟩ with respect to every xᵢ, flattened and
    /// concatenated. Differentiable (recorded) whenever its arguments require grad.
    let private gradientMap (f: Node[] -> Node) (arity: int) (args: Node[]) : Node =
        let _, back = Transforms.vjpArgs f args[0 .. arity - 1]
        let flat = back args[arity] |> Array.map (Node.reshape [| -1 |])
        if flat.Length = 1 then flat[0] else Node.concat 0 flat

    /// The output cotangent v of the second-order checks: random, of the output's shape, drawn from a
    /// stream separate from the first-order checks' cotangents.
    let private secondOrderCotangent (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) =
        let output = (notNull "f" f) (Array.map Node.constant inputs)

        if isNull output then
            raise (InvalidOperationException("gradient check: the checked function returned null; return its output node."))

        random (Random(options.Seed + 7919)) output.Shape

    /// The second-order mismatches and the shape of the output cotangent v they were found with.
    let private secondOrder (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) =
        let f = notNull "f" f
        let inputs = toFloat64 inputs

        if inputs.Length = 0 then
            [], null
        else
            let v = secondOrderCotangent options f inputs
            let args = Array.append inputs [| v |]
            let g = gradientMap f inputs.Length

            let mismatches =
                compare options g args @ compareDirection options g args
                |> List.map (fun m -> { m with Check = "second-order " + m.Check })

            mismatches, v.Shape

    /// Second order (PyTorch's gradgradcheck): checks the derivatives of the gradient itself. For a
    /// random output cotangent v, the map (x, v) ↦ ∂⟨v, f(x)⟩/∂x is differentiated by the engine
    /// (reverse mode over the recorded backward pass) and compared with central differences of
    /// first-order gradients, element by element and along a random direction — with respect to every
    /// input and to v (reported as input index <c>inputs.Length</c>). Catches derivative rules that are
    /// right to first order but not differentiable (e.g. written with <c>Node.detach</c>).
    let compareSecondOrder (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckMismatch list =
        fst (secondOrder options f inputs)

    /// Runs the finite-difference, random-direction and adjoint checks; true when all pass.
    let check (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : bool = List.isEmpty (compareAll options f inputs)

    /// Runs the second-order checks (<see cref="compareSecondOrder"/>); true when they pass.
    let checkSecondOrder (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : bool =
        List.isEmpty (compareSecondOrder options f inputs)

    let private shapesOf (inputs: Tensor[]) = notNull "inputs" inputs |> Array.mapi (fun i x -> (notNull (sprintf "inputs[%d]" i) x).Shape)

    /// Runs all three first-order checks and returns the result with its report: <c>Passed</c>, the
    /// mismatches, and <c>ToString()</c> naming input, element, analytic and numeric values and tolerance.
    let report (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckResult =
        let shapes = shapesOf inputs
        GradCheckResult(1, options, shapes.Length, shapes, compareAll options f inputs)

    /// Runs the second-order checks and returns the result with its report (the output cotangent v is
    /// reported as input <c>inputs.Length</c>).
    let reportSecondOrder (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : GradCheckResult =
        let shapes = shapesOf inputs
        let mismatches, cotangentShape = secondOrder options f inputs
        let all = if isNull cotangentShape then shapes else Array.append shapes [| cotangentShape |]
        GradCheckResult(2, options, shapes.Length, all, mismatches)

    /// Runs all three checks and throws <see cref="GradientCheckException"/> listing every mismatch
    /// with the tolerance and step.
    let assertCorrect (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : unit = (report options f inputs).ThrowIfFailed()

    /// Runs the second-order checks and throws <see cref="GradientCheckException"/> listing every mismatch.
    let assertSecondOrder (options: GradCheckOptions) (f: Node[] -> Node) (inputs: Tensor[]) : unit =
        (reportSecondOrder options f inputs).ThrowIfFailed()

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
