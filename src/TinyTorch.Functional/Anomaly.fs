namespace TinyTorch

open System

/// Anomaly detection found a NaN or an infinity produced by an op in a forward or backward pass.
type NonFiniteGradientException(message: string, operation: string, pass: string) =
    inherit ArithmeticException(message)
    /// The op that produced the value, e.g. <c>log</c>.
    member _.Operation = operation
    /// <c>forward</c> or <c>backward</c>.
    member _.Pass = pass

namespace TinyTorch.Functional

open System
open System.Threading
open TinyTorch

/// Opt-in anomaly detection (PyTorch: <c>torch.autograd.detect_anomaly</c>): inside a scope, the
/// first op whose forward value or backward contribution is not finite throws. The scope flows
/// with async code (AsyncLocal). When no scope is open anywhere, the check is one integer read.
[<RequireQualifiedAccess>]
module Anomaly =
    let private openScopes = ref 0
    let private depth = AsyncLocal<int>()
    let private insidePass = AsyncLocal<int>()

    /// True inside an anomaly-detection scope on this flow of execution.
    let isActive () = Volatile.Read(&openScopes.contents) > 0 && depth.Value > 0

    /// Opens a scope; disposing it closes the scope (and restores the previous state on this flow).
    let enter () : IDisposable =
        Interlocked.Increment(&openScopes.contents) |> ignore
        let previous = depth.Value
        depth.Value <- previous + 1
        let mutable closed = 0

        { new IDisposable with
            member _.Dispose() =
                if Interlocked.Exchange(&closed, 1) = 0 then
                    depth.Value <- previous
                    Interlocked.Decrement(&openScopes.contents) |> ignore }

    let private isFinite (t: Tensor) =
        not t.IsFloatingPoint || Seq.forall (fun i -> Double.IsFinite(t.GetFlat i)) (seq { 0 .. t.Size - 1 })

    /// The smallest and largest element, e.g. <c>[-2, 3.5]</c> (NaN counted apart).
    let range (t: Tensor) =
        if t.Size = 0 then "empty"
        else
            let values = t.ToArray()
            let nan = values |> Array.filter Double.IsNaN |> Array.length
            let numbers = values |> Array.filter (Double.IsNaN >> not)
            let span = if numbers.Length = 0 then "" else sprintf "[%g, %g]" (Array.min numbers) (Array.max numbers)
            if nan > 0 then sprintf "%s%s%d NaN" span (if span = "" then "" else " and ") nan else span

    /// Runs a backward (or tangent) pass: the nodes its rules build are checked by the pass itself,
    /// which can name the rule's op and the path, so the forward check stays quiet meanwhile.
    let duringPass (pass: unit -> 'T) : 'T =
        if not (isActive ()) then pass ()
        else
            let previous = insidePass.Value
            insidePass.Value <- previous + 1

            try
                pass ()
            finally
                insidePass.Value <- previous

    /// Throws when <paramref name="value"/> (the output of <paramref name="operation"/>) is not finite.
    let checkForward (operation: string) (inputs: Tensor[]) (value: Tensor) =
        if insidePass.Value = 0 && not (isFinite value) then
            let ranges = inputs |> Array.mapi (fun i t -> sprintf "input %d %O in %s" i t.Shape (range t)) |> String.concat ", "
            raise (NonFiniteGradientException(sprintf "Anomaly detection: the forward pass of %s produced a non-finite value (output in %s; %s)." operation (range value) ranges, operation, "forward"))

    /// Throws when a backward contribution is not finite, naming the op, its inputs and the path from the output.
    let checkBackward (operation: string) (inputIndex: int) (inputs: Tensor[]) (contribution: Tensor) (path: unit -> string) =
        if not (isFinite contribution) then
            let ranges = inputs |> Array.mapi (fun i t -> sprintf "input %d %O in %s" i t.Shape (range t)) |> String.concat ", "
            raise (NonFiniteGradientException(sprintf "Anomaly detection: the backward pass of %s returned a non-finite gradient for input %d (gradient in %s; %s). Path from the output: %s." operation inputIndex (range contribution) ranges (path ()), operation, "backward"))
