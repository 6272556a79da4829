namespace TinyTorch.Functional

open System
open TinyTorch

/// Parameter initialisers, drawing from an explicit generator (no hidden global state).
/// PyTorch: <c>torch.nn.init</c>.
[<RequireQualifiedAccess>]
module Init =
    let private requireFloatDType (operation: string) (dtype: DType) =
        if dtype <> DType.Float32 && dtype <> DType.Float64 then
            raise (ArgumentException(sprintf "%s: parameters need a floating-point dtype (Float32 or Float64), but got %O." operation dtype, "dtype"))

    /// Values uniform in [low, high), drawn from <paramref name="random"/> in row-major order (in float64,
    /// then rounded to <paramref name="dtype"/>). PyTorch: <c>torch.nn.init.uniform_</c>.
    let uniform (random: Random) (shape: Shape) (low: float) (high: float) (dtype: DType) : Tensor =
        let random = notNull "random" random
        let shape = notNull "shape" shape
        requireFloatDType "uniform" dtype

        if not (Double.IsFinite low && Double.IsFinite high && low <= high) then
            raise (ArgumentOutOfRangeException("high", high, sprintf "uniform: the bounds must be finite with low ≤ high, but got low = %g, high = %g." low high))

        let width = high - low
        Tensor.cast dtype (Tensor.Wrap(shape, Array.init shape.Size (fun _ -> low + width * random.NextDouble())))

    /// The gain of a leaky ReLU with negative slope <paramref name="a"/>: √(2 / (1 + a²)).
    /// PyTorch: <c>torch.nn.init.calculate_gain('leaky_relu', a)</c>.
    let leakyReluGain (a: float) : float = sqrt (2.0 / (1.0 + a * a))

    /// Kaiming (He) uniform initialisation in fan-in mode for a leaky ReLU of slope <paramref name="a"/>: uniform in
    /// ±gain·√3/√fanIn (all zeros when fanIn is 0, where PyTorch leaves the empty tensor alone).
    /// PyTorch: <c>torch.nn.init.kaiming_uniform_(t, a, mode='fan_in', nonlinearity='leaky_relu')</c>.
    let kaimingUniform (random: Random) (a: float) (fanIn: int) (shape: Shape) (dtype: DType) : Tensor =
        if fanIn < 0 then
            raise (ArgumentOutOfRangeException("fanIn", fanIn, sprintf "kaiming_uniform: fanIn must be 0 or more, but got %d." fanIn))

        let bound = if fanIn = 0 then 0.0 else leakyReluGain a * sqrt 3.0 / sqrt (float fanIn)
        uniform random shape (-bound) bound dtype

    /// The initial weight [outFeatures, inFeatures] and bias [outFeatures] (null when <paramref name="bias"/> is false)
    /// of a linear layer, as PyTorch draws them: the weight by Kaiming uniform with a = √5, which makes its bound
    /// 1/√inFeatures, then the bias uniform in ±1/√inFeatures (0 when inFeatures is 0).
    /// PyTorch: <c>torch.nn.Linear.reset_parameters</c>.
    let linear (random: Random) (inFeatures: int) (outFeatures: int) (bias: bool) (dtype: DType) : struct (Tensor * Tensor) =
        let random = notNull "random" random

        if inFeatures < 0 then
            raise (ArgumentOutOfRangeException("inFeatures", inFeatures, sprintf "linear: inFeatures must be 0 or more, but got %d." inFeatures))

        if outFeatures < 0 then
            raise (ArgumentOutOfRangeException("outFeatures", outFeatures, sprintf "linear: outFeatures must be 0 or more, but got %d." outFeatures))

        requireFloatDType "linear" dtype
        let weight = kaimingUniform random (sqrt 5.0) inFeatures (Shape.Of(outFeatures, inFeatures)) dtype

        let biasValue =
            if not bias then null
            else
                let bound = if inFeatures = 0 then 0.0 else 1.0 / sqrt (float inFeatures)
                uniform random (Shape.Of outFeatures) (-bound) bound dtype

        struct (weight, biasValue)

/// Optimizer update rules and learning-rate schedules as pure functions over tensors: each step takes the
/// parameter, its gradient and its state and returns the new parameter and state; nothing is mutated and no
/// graph is recorded. The formulas are PyTorch's, operation for operation. PyTorch: <c>torch.optim</c>.
[<RequireQualifiedAccess>]
module Optim =
    let private fail (name: string) (value: 'V) (message: string) =
        raise (ArgumentOutOfRangeException(name, box value, message))

    /// Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/> unless value is finite and ≥ 0.
    let private requireNonNegative (operation: string) (name: string) (value: float) =
        if not (Double.IsFinite value && value >= 0.0) then
            fail name value (sprintf "%s: %s must be a finite number ≥ 0, but got %g." operation name value)

    /// Throws unless <paramref name="lr"/> is a finite learning rate ≥ 0.
    let validateLearningRate (operation: string) (lr: float) = requireNonNegative operation "lr" lr

    /// Throws <see cref="ArgumentOutOfRangeException"/> (or <see cref="ArgumentException"/> for
    /// <paramref name="nesterov"/>) naming the offending argument unless the SGD hyper-parameters are valid:
    /// lr, momentum and weightDecay finite and ≥ 0, dampening finite, and Nesterov only with momentum &gt; 0 and
    /// dampening 0. PyTorch: the checks of <c>torch.optim.SGD</c>.
    let validateSgd (lr: float) (momentum: float) (dampening: float) (nesterov: bool) (weightDecay: float) =
        validateLearningRate "sgd" lr
        requireNonNegative "sgd" "momentum" momentum

        if not (Double.IsFinite dampening) then
            fail "dampening" dampening (sprintf "sgd: dampening must be a finite number, but got %g." dampening)

        requireNonNegative "sgd" "weightDecay" weightDecay

        if nesterov && (momentum <= 0.0 || dampening <> 0.0) then
            raise (
                ArgumentException(
                    sprintf "sgd: Nesterov momentum needs momentum > 0 and dampening = 0, but got momentum = %g, dampening = %g; pass a positive momentum or nesterov = false." momentum dampening,
                    "nesterov"
                )
            )

    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the offending argument unless the Adam/AdamW
    /// hyper-parameters are valid: lr and weightDecay finite and ≥ 0, beta1 and beta2 in [0, 1), eps finite and &gt; 0.
    /// PyTorch: the checks of <c>torch.optim.Adam</c>.
    let validateAdam (operation: string) (lr: float) (beta1: float) (beta2: float) (eps: float) (weightDecay: float) =
        validateLearningRate operation lr

        for name, beta in [ "beta1", beta1; "beta2", beta2 ] do
            if not (beta >= 0.0 && beta < 1.0) then
                fail name beta (sprintf "%s: %s must be in [0, 1), but got %g." operation name beta)

        if not (Double.IsFinite eps && eps > 0.0) then
            fail "eps" eps (sprintf "%s: eps must be a finite number > 0, but got %g." operation eps)

        requireNonNegative operation "weightDecay" weightDecay

    /// The gradient in the parameter's dtype, after checking that it is a floating tensor of the parameter's shape.
    let private prepare (operation: string) (param: Tensor) (grad: Tensor) : Tensor =
        let param = notNull "param" param
        let grad = notNull "grad" grad
        Tensor.requireFloat operation param
        Tensor.requireFloat operation grad

        if not (grad.Shape.Equals param.Shape) then
            raise (
                ShapeMismatchException(
                    operation,
                    param.Shape,
                    grad.Shape,
                    -1,
                    sprintf "%s: the gradient has shape %O but the parameter has shape %O; was the parameter's data replaced after the backward pass? Clear its gradient first." operation grad.Shape param.Shape
                )
            )

        Tensor.cast param.DType grad

    /// Checks that a state tensor (null when absent) still fits the parameter.
    let private requireState (operation: string) (name: string) (param: Tensor) (state: Tensor) =
        if not (isNull state) && not (state.Shape.Equals param.Shape) then
            raise (
                ShapeMismatchException(
                    operation,
                    param.Shape,
                    state.Shape,
                    -1,
                    sprintf "%s: the %s has shape %O but the parameter has shape %O; the parameter's shape changed since the last step. Create a new optimizer." operation name state.Shape param.Shape
                )
            )

    /// One SGD step for one parameter; returns the new parameter and the new momentum buffer (null when
    /// momentum is 0). With d = grad + weightDecay·param: the buffer is d on the first step (<paramref name="momentumBuffer"/>
    /// null) and momentum·buffer + (1 − dampening)·d after; the direction is d + momentum·buffer with Nesterov, the
    /// buffer without; the new parameter is param − lr·direction. PyTorch: <c>torch.optim.SGD</c>.
    let sgdStep
        (lr: float)
        (momentum: float)
        (dampening: float)
        (nesterov: bool)
        (weightDecay: float)
        (param: Tensor)
        (grad: Tensor)
        (momentumBuffer: Tensor)
        : struct (Tensor * Tensor) =
        validateSgd lr momentum dampening nesterov weightDecay
        let grad = prepare "sgd" param grad
        requireState "sgd" "momentum buffer" param momentumBuffer
        let d = if weightDecay <> 0.0 then grad + weightDecay * param else grad

        if momentum = 0.0 then
            struct (param - lr * d, null)
        else
            let buffer =
                if isNull momentumBuffer then d
                else momentum * Tensor.cast param.DType momentumBuffer + (1.0 - dampening) * d

            let direction = if nesterov then d + momentum * buffer else buffer
            struct (param - lr * direction, buffer)

    /// One Adam (or, with <paramref name="decoupled"/>, AdamW) step for one parameter at step number
    /// <paramref name="step"/> (1 for the first); returns the new parameter and the new first and second moments
    /// (<paramref name="m"/> and <paramref name="v"/> null mean zeros). Adam adds weightDecay·param to the gradient;
    /// AdamW instead multiplies the parameter by (1 − lr·weightDecay) first. Then m = β₁m + (1 − β₁)g,
    /// v = β₂v + (1 − β₂)g², and param − lr·m̂/(√v̂ + eps) with the bias corrections m̂ = m/(1 − β₁ᵗ),
    /// v̂ = v/(1 − β₂ᵗ), evaluated as PyTorch does: param − (lr/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + eps).
    /// PyTorch: <c>torch.optim.Adam</c>, <c>torch.optim.AdamW</c>.
    let adamStep
        (lr: float)
        (beta1: float)
        (beta2: float)
        (eps: float)
        (weightDecay: float)
        (decoupled: bool)
        (step: int)
        (param: Tensor)
        (grad: Tensor)
        (m: Tensor)
        (v: Tensor)
        : struct (Tensor * Tensor * Tensor) =
        let operation = if decoupled then "adamw" else "adam"
        validateAdam operation lr beta1 beta2 eps weightDecay

        if step < 1 then
            fail "step" step (sprintf "%s: step counts from 1, but got %d." operation step)

        let grad = prepare operation param grad
        requireState operation "first moment" param m
        requireState operation "second moment" param v

        let param =
            if decoupled && weightDecay <> 0.0 then param * (1.0 - lr * weightDecay) else param

        let grad =
            if not decoupled && weightDecay <> 0.0 then grad + weightDecay * param else grad

        let m =
            if isNull m then (1.0 - beta1) * grad
            else beta1 * Tensor.cast param.DType m + (1.0 - beta1) * grad

        let v =
            if isNull v then (1.0 - beta2) * (grad * grad)
            else beta2 * Tensor.cast param.DType v + (1.0 - beta2) * (grad * grad)

        let biasCorrection1 = 1.0 - Math.Pow(beta1, float step)
        let biasCorrection2 = 1.0 - Math.Pow(beta2, float step)
        let denominator = Tensor.sqrt v / sqrt biasCorrection2 + eps
        struct (param - (lr / biasCorrection1) * m / denominator, m, v)

    /// The learning rate of a step schedule after <paramref name="epoch"/> epochs:
    /// baseLr·gamma^⌊epoch / stepSize⌋. PyTorch: <c>torch.optim.lr_scheduler.StepLR</c> (closed form).
    let stepLr (baseLr: float) (stepSize: int) (gamma: float) (epoch: int) : float =
        validateLearningRate "step_lr" baseLr

        if stepSize < 1 then
            fail "stepSize" stepSize (sprintf "step_lr: stepSize must be at least 1, but got %d." stepSize)

        requireNonNegative "step_lr" "gamma" gamma

        if epoch < 0 then
            fail "epoch" epoch (sprintf "step_lr: epoch must be 0 or more, but got %d." epoch)

        baseLr * Math.Pow(gamma, float (epoch / stepSize))

    /// The learning rate of a cosine schedule after <paramref name="epoch"/> epochs:
    /// etaMin + (baseLr − etaMin)·(1 + cos(π·epoch/tMax))/2, which falls from baseLr to etaMin over tMax epochs
    /// (and, like PyTorch's closed form, rises again after). PyTorch: <c>torch.optim.lr_scheduler.CosineAnnealingLR</c>.
    let cosineAnnealingLr (baseLr: float) (tMax: int) (etaMin: float) (epoch: int) : float =
        validateLearningRate "cosine_annealing_lr" baseLr

        if tMax < 1 then
            fail "tMax" tMax (sprintf "cosine_annealing_lr: tMax must be at least 1, but got %d." tMax)

        requireNonNegative "cosine_annealing_lr" "etaMin" etaMin

        if epoch < 0 then
            fail "epoch" epoch (sprintf "cosine_annealing_lr: epoch must be 0 or more, but got %d." epoch)

        etaMin + (baseLr - etaMin) * (1.0 + Math.Cos(Math.PI * float epoch / float tMax)) / 2.0
