namespace TinyTorch.Functional

open System
open System.Collections.Generic
open TinyTorch

/// Forward mode: the same walk as reverse mode, inputs first, with each rule's JVP.
[<RequireQualifiedAccess>]
module Forward =

    /// The tangent of <paramref name="root"/> when each key in <paramref name="tangents"/> moves along
    /// its tangent: a leaf's key, or any node of the graph itself (its tangent then replaces the one
    /// its inputs would give); everything else not listed stays fixed. With <paramref name="createGraph"/> the
    /// computation is recorded and can be differentiated again. The result has the root's shape;
    /// zeros when no listed leaf reaches the root.
    let tangentWith (createGraph: bool) (tangents: seq<obj * Node>) (root: Node) : Node =
        let given = Dictionary<obj, Node>(ReferenceEqualityComparer.Instance)

        for key, tangent in notNull "tangents" tangents do
            given[notNull "key" key] <- notNull "tangent" tangent

        let order = Reverse.topologicalOrder (notNull "root" root)
        let tangentOf = Dictionary<Node, Node>(order.Count, NodeComparer.Instance)

        Anomaly.duringPass (fun () ->
          for node in order do
              let tangent =
                  match given.TryGetValue(if node.IsLeaf then node.Key else box node) with
                  | true, t ->
                      if not (t.Shape.Equals node.Shape) then
                          raise (ArgumentException(sprintf "jvp: the tangent has shape %O but its node has shape %O; pass a tangent of the node's shape." t.Shape node.Shape, "tangents"))

                      Node.cast node.DType (if createGraph then t else Node.detach t)
                  | _ when node.IsLeaf -> null
                  | _ ->
                      let inputs = node.InputArray
                      let inputTangents = Array.zeroCreate inputs.Length
                      let mutable any = false

                      for j in 0 .. inputs.Length - 1 do
                          match tangentOf.TryGetValue inputs[j] with
                          | true, t when not (isNull t) ->
                              inputTangents[j] <- t
                              any <- true
                          | _ -> ()

                      if not any then null
                      elif createGraph then (OpTable.rule node.Op).Jvp inputs node inputTangents
                      else
                          match node.Op with
                          // User code gets detached copies; built-in rules run on the nodes themselves with
                          // recording off (their results are constants either way).
                          | Op.Custom _ -> (OpTable.rule node.Op).Jvp (Array.map Node.detach inputs) (Node.detach node) inputTangents
                          | op ->
                              let rule = OpTable.rule op
                              let recording = Recording.ForThisThread
                              recording.Depth <- recording.Depth + 1

                              try
                                  rule.Jvp inputs node inputTangents
                              finally
                                  recording.Depth <- recording.Depth - 1

              if not (isNull tangent) then tangentOf[node] <- tangent)

        match tangentOf.TryGetValue root with
        | true, t -> t
        | _ -> Node.constant (Tensor.zerosLike root.Value)

    /// First-order tangent of <paramref name="root"/> for leaf tangents given as tensors.
    let tangent (tangents: seq<Node * Tensor>) (root: Node) : Tensor =
        let keyed = tangents |> Seq.map (fun (leaf, t) -> (notNull "leaf" leaf).Key, Node.constant t) |> Seq.toArray
        (tangentWith false keyed root).Value
