namespace TinyTorch.Functional

open System
open System.Collections.Generic
open System.Runtime.InteropServices
open TinyTorch

/// Hashes nodes by their id (reference identity, no virtual call into the node).
type internal NodeComparer() =
    static member val Instance = NodeComparer()

    interface IEqualityComparer<Node> with
        member _.Equals(a, b) = obj.ReferenceEquals(a, b)
        member _.GetHashCode(n) = n.Id.GetHashCode()

/// The gradients of one output with respect to the leaves it depends on, keyed by each leaf's key.
[<Sealed>]
type Gradients internal (byKey: Dictionary<obj, Node>) =
    /// The gradient for a leaf key (for leaves made with <c>Node.leaf</c>, the leaf node itself).
    member _.Item
        with get (key: obj) =
            match byKey.TryGetValue(notNull "key" key) with
            | true, g -> g
            | _ -> raise (KeyNotFoundException("gradients: this key belongs to no leaf that the output depends on; a leaf the output does not use has no gradient entry."))

    /// The gradient for a leaf key, if the output depends on that leaf.
    member _.TryFind(key: obj) : Node option =
        match byKey.TryGetValue(notNull "key" key) with
        | true, g -> Some g
        | _ -> None

    /// The keys of all leaves reached, in no particular order.
    member _.Keys: seq<obj> = byKey.Keys
    /// Number of leaf keys reached.
    member _.Count = byKey.Count

/// Reverse mode: a pure function from an output and its cotangent to the leaves' gradients.
[<RequireQualifiedAccess>]
module Reverse =

    /// The nodes reachable from <paramref name="root"/> through inputs that <paramref name="follow"/>
    /// accepts, every node after its inputs and the root last (an explicit stack, no recursion, so a
    /// million-node chain works).
    let reachable (follow: Node -> bool) (root: Node) : IReadOnlyList<Node> =
        let order = List<Node>()
        let visited = HashSet<Node>(NodeComparer.Instance)
        let stack = Stack<struct (Node * int)>()
        visited.Add(notNull "root" root) |> ignore
        stack.Push(struct (root, 0))

        while stack.Count > 0 do
            let struct (node, next) = stack.Pop()
            let inputs = node.InputArray

            if next < inputs.Length then
                stack.Push(struct (node, next + 1))
                let input = inputs[next]

                if follow input && visited.Add input then
                    stack.Push(struct (input, 0))
            else
                order.Add node

        order

    /// The nodes that require grad and are reachable from <paramref name="root"/>, every node after
    /// its inputs (empty when the root itself needs no gradient).
    let topologicalOrder (root: Node) : IReadOnlyList<Node> =
        if (notNull "root" root).RequiresGrad then reachable (fun n -> n.RequiresGrad) root else List<Node>()

    /// The ops from <paramref name="root"/> down to <paramref name="target"/>, e.g. <c>sum_all → multiply → log</c>.
    let private pathTo (root: Node) (target: Node) : string =
        let parent = Dictionary<Node, Node>(NodeComparer.Instance)
        let pending = Queue<Node>([ root ])
        parent[root] <- null

        while pending.Count > 0 && not (parent.ContainsKey target) do
            let node = pending.Dequeue()

            for input in node.InputArray do
                if parent.TryAdd(input, node) then pending.Enqueue input

        let rec up (node: Node) acc = if isNull node then acc else up parent[node] (node.Op.Name :: acc)
        if parent.ContainsKey target then up target [] |> String.concat " → " else target.Op.Name

    let private checkSeed (root: Node) (seed: Node) =
        if not (seed.Shape.Equals root.Shape) then
            raise (ArgumentException(sprintf "gradient has shape %O but the output has shape %O; pass a gradient of shape %O." seed.Shape root.Shape root.Shape, "gradient"))

        if not root.RequiresGrad then
            raise (InvalidOperationException("backward: the output does not depend on any leaf that requires grad, so there is nothing to differentiate. Create inputs with requiresGrad = true."))

    /// One node's VJP. A first-order pass (no <paramref name="createGraph"/>) runs a built-in rule on
    /// the graph's own nodes with recording off, so its results are constants and no detached copy of
    /// the inputs is made; a custom rule (user code) gets detached copies, as it always did.
    let private vjpOf (createGraph: bool) (recording: Recording) (node: Node) (cotangent: Node) : Node[] =
        if createGraph then
            (OpTable.rule node.Op).Vjp node.InputArray node cotangent
        else
            match node.Op with
            | Op.Custom _ -> (OpTable.rule node.Op).Vjp (Array.map Node.detach node.InputArray) (Node.detach node) cotangent
            | op ->
                let rule = OpTable.rule op
                recording.Depth <- recording.Depth + 1

                try
                    rule.Vjp node.InputArray node cotangent
                finally
                    recording.Depth <- recording.Depth - 1

    /// The reverse walk itself: every node that requires grad and is reachable from
    /// <paramref name="root"/>, outputs before inputs; each VJP runs once and contributions are summed.
    /// <paramref name="visit"/> sees each node with its complete cotangent (null when nothing reached
    /// it) and returns the cotangent to pass on to its inputs (a hook may transform it; null stops it).
    /// With <paramref name="createGraph"/> the pass is recorded, so its results can be differentiated.
    /// Nodes are visited newest first (ids grow in creation order, and every node is created after its
    /// inputs, so all of a node's users come before it): one priority queue and one dictionary hold
    /// only the frontier of nodes reached but not yet visited, so a long chain needs O(1) extra memory.
    ///
    /// <paramref name="keeps"/> states, before <paramref name="visit"/> runs on a node, whether the
    /// visitor may keep that node's cotangent (or the one it returns) beyond the call: a leaf gradient,
    /// a retained gradient, a hook's argument. For every other node the visitor must only look at the
    /// cotangent and return it unchanged (or null); returning another tensor marks both as kept.
    /// A first-order pass (not in anomaly mode) counts references to the large cotangent buffers that
    /// its own rules made, and gives each back to the pool as soon as the last one is consumed,
    /// unless the visitor kept it or user code (a custom op) saw it; so a pass reuses a few hot buffers.
    let walkKeeping (createGraph: bool) (seed: Node) (root: Node) (keeps: Node -> bool) (visit: Node -> Node -> Node) : unit =
        checkSeed (notNull "root" root) (notNull "seed" seed)
        let seed = Node.cast root.DType (if createGraph then seed else Node.detach seed)
        // The frontier: each node reached but not yet visited, with the cotangent summed so far (null: none).
        let pending = Dictionary<Node, Node>(NodeComparer.Instance)
        let queue = PriorityQueue<Node, int64>()
        let recording = Recording.ForThisThread
        let keeps = notNull "keeps" keeps
        // Buffer release: only storages made after this point (by this pass's rules and sums), never
        // the seed or forward values; each count is how many cotangents the engine holds on it
        // (views and aliases such as Add's [g; g] share a storage); escaped ones are never released.
        let releasing = not createGraph && not (Anomaly.isActive ())
        let since = PooledStorage.LastSerial
        let counts = if releasing then Dictionary<PooledStorage, int>(HashIdentity.Reference) else null
        let escaped = if releasing then HashSet<PooledStorage>(HashIdentity.Reference) else null

        let storageOf (n: Node) =
            if isNull n then null
            else
                match n.Value.Storage with
                | :? PooledStorage as p -> p
                | _ -> null

        let candidate (n: Node) =
            match storageOf n with
            | null -> null
            | p when p.Serial > since && not (escaped.Contains p) -> p
            | _ -> null

        let hold (n: Node) =
            match candidate n with
            | null -> ()
            | p ->
                match counts.TryGetValue p with
                | true, k -> counts[p] <- k + 1
                | _ -> counts[p] <- 1

        let consume (n: Node) =
            match candidate n with
            | null -> ()
            | p ->
                match counts.TryGetValue p with
                | true, k when k > 1 -> counts[p] <- k - 1
                | true, _ ->
                    counts.Remove p |> ignore
                    p.Release()
                | _ -> ()

        let escape (n: Node) =
            match storageOf n with
            | null -> ()
            | p ->
                escaped.Add p |> ignore
                counts.Remove p |> ignore

        pending[root] <- seed
        queue.Enqueue(root, -root.Id)

        Anomaly.duringPass (fun () ->
          while queue.Count > 0 do
              let node = queue.Dequeue()
              let mutable incoming = null
              pending.Remove(node, &incoming) |> ignore
              let kept = releasing && keeps node
              if kept then escape incoming
              let cotangent = visit node incoming

              if releasing then
                  if kept then escape cotangent
                  elif not (obj.ReferenceEquals(cotangent, incoming)) then
                      escape incoming
                      escape cotangent

              if not node.IsLeaf then
                  let inputs = node.InputArray
                  let custom = match node.Op with Op.Custom _ -> true | _ -> false
                  if releasing && custom then escape cotangent
                  let contributions = if isNull cotangent then null else vjpOf createGraph recording node cotangent

                  if releasing && not (isNull contributions) then
                      for j in 0 .. min inputs.Length contributions.Length - 1 do
                          let c = contributions[j]

                          if custom then escape c
                          elif inputs[j].RequiresGrad then hold c

                  for j in 0 .. inputs.Length - 1 do
                      let input = inputs[j]

                      if input.RequiresGrad then
                          let c = if isNull contributions then null else contributions[j]

                          if not (isNull c) && Anomaly.isActive () then
                              Anomaly.checkBackward node.Op.Name j (inputs |> Array.map (fun n -> n.Value)) c.Value (fun () -> pathTo root node)

                          let mutable reached = false
                          let slot = &CollectionsMarshal.GetValueRefOrAddDefault(pending, input, &reached)

                          if not reached then queue.Enqueue(input, -input.Id)

                          if not (isNull c) then
                              if isNull slot then slot <- c
                              else
                                  let sum = Node.add slot c

                                  if releasing then
                                      hold sum
                                      consume slot
                                      consume c

                                  slot <- sum

              // The engine is done with this cotangent (a kept one escaped above, so it stays).
              if releasing then consume cotangent)

    /// <see cref="walkKeeping"/> for a visitor that may keep any cotangent it sees (so only the
    /// partial sums it never sees go back to the pool early).
    let walk (createGraph: bool) (seed: Node) (root: Node) (visit: Node -> Node -> Node) : unit =
        walkKeeping createGraph seed root (fun _ -> true) visit

    /// Gradients of <paramref name="root"/> with respect to every leaf it depends on, given the
    /// cotangent <paramref name="seed"/> (same shape as the root). Each node's VJP runs once and
    /// contributions are summed; a leaf reached with no contribution gets zeros. With
    /// <paramref name="createGraph"/> the backward pass is itself recorded, so the gradients can
    /// be differentiated again; otherwise the results are constants. Throws before computing
    /// anything when the seed's shape differs from the root's.
    let gradientsWith (createGraph: bool) (seed: Node) (root: Node) : Gradients =
        let byKey = Dictionary<obj, Node>(ReferenceEqualityComparer.Instance)

        walkKeeping createGraph seed root (fun node -> node.IsLeaf) (fun node cotangent ->
            if node.IsLeaf then
                let g = if isNull cotangent then Node.constant (Tensor.zerosLike node.Value) else cotangent

                match byKey.TryGetValue node.Key with
                | true, previous -> byKey[node.Key] <- Node.add previous g
                | _ -> byKey[node.Key] <- g

            cotangent)

        // Gradients leave the pass computed (deferred elementwise ones together, in one fused pass).
        Tensor.materialize (byKey.Values |> Seq.map (fun g -> g.Value))
        Gradients(byKey)

    /// Gradients of <paramref name="root"/> with respect to arbitrary nodes of its graph (leaves or
    /// intermediate results), in the order given: each is the complete cotangent that reaches that
    /// node; zeros for a node the root does not depend on. PyTorch: <c>torch.autograd.grad(outputs, inputs)</c>.
    let gradientsWrt (createGraph: bool) (seed: Node) (root: Node) (wrt: Node[]) : Node[] =
        let wrt = notNull "wrt" wrt
        let found = Dictionary<Node, Node>(NodeComparer.Instance)

        for w in wrt do
            found[notNull "wrt" w] <- null

        walkKeeping createGraph seed root found.ContainsKey (fun node cotangent ->
            if found.ContainsKey node then
                found[node] <- if isNull found[node] then cotangent else found[node]

            cotangent)

        let result = wrt |> Array.map (fun w -> match found[w] with null -> Node.constant (Tensor.zerosLike w.Value) | g -> g)
        Tensor.materialize (result |> Seq.map (fun g -> g.Value))
        result

    /// First-order gradients of <paramref name="root"/> for the cotangent <paramref name="seed"/>.
    let gradientsFor (seed: Tensor) (root: Node) : Gradients = gradientsWith false (Node.constant seed) root

    /// First-order gradients of <paramref name="root"/> seeded with ones (for a scalar, d root / d leaf).
    let gradients (root: Node) : Gradients =
        gradientsWith false (Node.constant (Tensor.onesLike (notNull "root" root).Value)) root
