namespace TinyTorch.Functional

open System
open TinyTorch

/// Loss functions, all composites of the op table's primitives (no rules of their own).
[<RequireQualifiedAccess>]
module Loss =

    let private reduce (reduction: Reduction) (losses: Node) =
        match reduction with
        | Reduction.Mean -> Node.mean losses
        | Reduction.Sum -> Node.sumAll losses
        | _ -> losses

    let private sameShape (operation: string) (input: Node) (target: Node) =
        let input, target = notNull "input" input, notNull "target" target

        if not (input.Shape.Equals target.Shape) then
            raise (ShapeMismatchException(operation, input.Shape, target.Shape, -1, sprintf "%s: input %O and target %O must have the same shape." operation input.Shape target.Shape))

    /// Squared error (input − target)², reduced. PyTorch: <c>torch.nn.functional.mse_loss</c>.
    let mse (reduction: Reduction) (input: Node) (target: Node) : Node =
        sameShape "mse_loss" input target
        let d = Node.subtract input target
        reduce reduction (Node.multiply d d)

    /// Huber loss: ½d² where |d| ≤ delta, delta·(|d| − ½delta) beyond. PyTorch: <c>torch.nn.functional.huber_loss</c>.
    let huber (delta: float) (reduction: Reduction) (input: Node) (target: Node) : Node =
        sameShape "huber_loss" input target

        if not (delta > 0.0) then
            raise (ArgumentOutOfRangeException("delta", delta, "huber_loss: delta must be positive."))

        let d = Node.subtract input target
        let ad = Node.abs d
        let inside = Tensor.map (MapKernel.StepBelow(delta, 1.0)) ad.Value
        let quadratic = Node.multiply (Node.multiply d d) (Node.scalarLike 0.5 d)
        let linear = Node.multiply (Node.subtract ad (Node.scalarLike (0.5 * delta) d)) (Node.scalarLike delta d)
        reduce reduction (Node.where inside quadratic linear)

    /// Binary cross-entropy on logits, stable for any logit: softplus(x) − x·y. PyTorch:
    /// <c>torch.nn.functional.binary_cross_entropy_with_logits</c>.
    let binaryCrossEntropyWithLogits (reduction: Reduction) (logits: Node) (targets: Node) : Node =
        sameShape "binary_cross_entropy_with_logits" logits targets
        reduce reduction (Node.subtract (Node.softplus logits) (Node.multiply logits targets))

    /// Checks [N, C] scores against N integer labels in [0, C) and optional [C] class weights.
    let private checkClassification (operation: string) (scores: Node) (labels: Tensor) (weights: Tensor) =
        let scores, labels = notNull "input" scores, notNull "labels" labels

        if scores.Shape.Rank <> 2 then
            raise (ArgumentException(sprintf "%s: the input must have shape [N, C] (N samples, C classes), but has shape %O." operation scores.Shape, "input"))

        if labels.IsFloatingPoint then
            raise (ArgumentException(sprintf "%s: labels must be an Int32 or Int64 tensor of class indices, but got %O." operation labels.DType, "labels"))

        if labels.Rank <> 1 || labels.Shape[0] <> scores.Shape[0] then
            raise (ShapeMismatchException(operation, scores.Shape, labels.Shape, 0, sprintf "%s: input %O needs labels of shape [%d], but the labels have shape %O." operation scores.Shape scores.Shape[0] labels.Shape))

        let classes = scores.Shape[1]

        for i in 0 .. labels.Size - 1 do
            let label = labels.GetInt64Flat i

            if label < 0L || label >= int64 classes then
                raise (ArgumentOutOfRangeException("labels", label, sprintf "%s: label %d (sample %d) is out of range for %d classes." operation label i classes))

        if not (isNull weights) && (weights.Rank <> 1 || weights.Shape[0] <> classes) then
            raise (ShapeMismatchException(operation, scores.Shape, weights.Shape, 1, sprintf "%s: class weights must have shape [%d] for input %O, but have shape %O." operation classes scores.Shape weights.Shape))

    /// Per-sample negative log-likelihood of the labels and the per-sample weights w[label].
    let private pickedLoss (logProbs: Node) (labels: Tensor) (weights: Tensor) =
        let n = logProbs.Shape[0]
        let index = Tensor.reshape (Shape.Of(n, 1)) (Tensor.cast DType.Int64 labels)
        let picked = Node.reshape [| n |] (Node.gather 1 index logProbs)

        let sampleWeights =
            if isNull weights then Tensor.Ones(Shape.Of n, logProbs.DType)
            else Tensor.cast logProbs.DType (Tensor.indexSelect 0 (Tensor.cast DType.Int64 labels) weights)

        Node.negate (Node.multiply picked (Node.constant sampleWeights)), sampleWeights

    let private reduceWeighted (reduction: Reduction) (losses: Node) (sampleWeights: Tensor) =
        match reduction with
        | Reduction.Mean -> Node.divide (Node.sumAll losses) (Node.constant (Tensor.sumAll sampleWeights))
        | Reduction.Sum -> Node.sumAll losses
        | _ -> losses

    /// Negative log-likelihood of integer labels given log-probabilities [N, C], with optional class
    /// weights (null for none); the mean divides by the total weight of the labels. PyTorch:
    /// <c>torch.nn.functional.nll_loss</c>.
    let nll (reduction: Reduction) (weights: Tensor) (logProbs: Node) (labels: Tensor) : Node =
        checkClassification "nll_loss" logProbs labels weights
        let losses, sampleWeights = pickedLoss logProbs labels weights
        reduceWeighted reduction losses sampleWeights

    /// Cross-entropy of logits [N, C] against integer labels, fused with log-softmax (stable for any
    /// logits), with optional class weights (null for none) and label smoothing ε: each sample's
    /// loss is (1 − ε)·(−w[y]·log p[y]) + ε·(−Σ_c w[c]·log p[c]) / C. The mean divides by the total
    /// weight of the labels. PyTorch: <c>torch.nn.functional.cross_entropy</c>.
    let crossEntropy (reduction: Reduction) (weights: Tensor) (labelSmoothing: float) (logits: Node) (labels: Tensor) : Node =
        checkClassification "cross_entropy" logits labels weights

        if not (labelSmoothing >= 0.0 && labelSmoothing <= 1.0) then
            raise (ArgumentOutOfRangeException("labelSmoothing", labelSmoothing, "cross_entropy: label smoothing must be in [0, 1]."))

        let logProbs = Node.logSoftmax 1 logits
        let losses, sampleWeights = pickedLoss logProbs labels weights

        let losses =
            if labelSmoothing = 0.0 then losses
            else
                let classes = logits.Shape[1]
                let classWeights = if isNull weights then Tensor.Ones(Shape.Of classes, logits.DType) else Tensor.cast logits.DType weights
                let smooth = Node.negate (Node.sum [| 1 |] false (Node.multiply logProbs (Node.constant classWeights)))

                Node.add
                    (Node.multiply losses (Node.scalarLike (1.0 - labelSmoothing) losses))
                    (Node.multiply smooth (Node.scalarLike (labelSmoothing / float classes) smooth))

        reduceWeighted reduction losses sampleWeights
