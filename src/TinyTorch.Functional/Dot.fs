namespace TinyTorch.Functional

open System.Collections.Generic
open System.Text
open TinyTorch

/// Graphviz DOT export of expression graphs (PyTorch: <c>torchviz.make_dot</c>).
[<RequireQualifiedAccess>]
module Dot =

    /// Every node reachable from <paramref name="root"/>, constants included, each after its inputs.
    let private allNodes (root: Node) = Reverse.reachable (fun _ -> true) root

    /// A DOT string literal: backslashes and quotes escaped, line breaks written as DOT's <c>\n</c>.
    let private quote (text: string) =
        "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\r", "").Replace("\n", "\\n") + "\""

    /// The graph of <paramref name="root"/> as Graphviz DOT: one node per graph node reachable from
    /// the root (constants included), with ids <c>n0</c>, <c>n1</c>, … in topological order (inputs
    /// before their users, the root last), labels <c>op\n[shape]</c>, and one edge from each input to
    /// its consumer (labelled with the input's position when the consumer has several). Leaves (the
    /// differentiable inputs) are filled boxes, constants dashed grey boxes, ops that require grad
    /// ellipses, and the root is drawn with a double outline. Render with <c>dot -Tsvg graph.dot</c>.
    let write (root: Node) : string =
        let order = allNodes (notNull "root" root)
        let id = Dictionary<Node, int>(order.Count, NodeComparer.Instance)

        for i in 0 .. order.Count - 1 do
            id[order[i]] <- i

        let text = StringBuilder()
        let line (s: string) = text.Append(s).Append('\n') |> ignore
        let nodeId (i: int) = text.Append('n').Append(i) |> ignore
        line "digraph tinytorch {"
        line "  node [fontname=\"Helvetica\", fontsize=10];"
        line "  edge [fontname=\"Helvetica\", fontsize=8];"

        for i in 0 .. order.Count - 1 do
            let node = order[i]

            let style =
                if node.IsLeaf then "shape=box, style=filled, fillcolor=lightblue"
                elif not node.RequiresGrad then "shape=box, style=dashed, color=gray50, fontcolor=gray30"
                else "shape=ellipse"

            text.Append("  ") |> ignore
            nodeId i
            text.Append(" [label=").Append(quote (node.Op.Name + "\n" + node.Shape.ToString())).Append(", ").Append(style) |> ignore
            line (if i = order.Count - 1 then ", peripheries=2];" else "];")

        for node in order do
            let inputs = node.InputArray

            for j in 0 .. inputs.Length - 1 do
                text.Append("  ") |> ignore
                nodeId id[inputs[j]]
                text.Append(" -> ") |> ignore
                nodeId id[node]
                if inputs.Length > 1 then text.Append(" [label=\"").Append(j).Append("\"]") |> ignore
                line ";"

        line "}"
        text.ToString()
