namespace TinyTorch

open System

/// How many threads the kernels may use. Results never depend on it: work is cut into chunks
/// whose boundaries depend only on the problem's size, reductions combine their chunks' partial
/// results in chunk order, and a matrix product computes every output element with the same
/// sequence of operations, so one thread and eight give bitwise identical results.
/// <remarks>PyTorch: <c>torch.set_num_threads</c> / <c>torch.get_num_threads</c>.</remarks>
[<AbstractClass; Sealed>]
type Threads private () =
    static let mutable count = Environment.ProcessorCount

    /// The number of threads kernels may use (default: the number of processors). Small work
    /// always runs on the calling thread. Applies to the whole process.
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or above 1024.</exception>
    static member Count
        with get () = count
        and set (value: int) =
            if value < 1 || value > 1024 then
                raise (ArgumentOutOfRangeException("value", value, sprintf "Threads.Count: %d threads is not possible; pass a number from 1 to 1024 (this machine has %d processors)." value Environment.ProcessorCount))

            count <- value

namespace TinyTorch.Functional

open System
open System.Threading.Tasks
open TinyTorch

/// Runs chunked work on up to <see cref="T:TinyTorch.Threads"/> threads. The chunking is fixed by
/// the caller from the problem's size alone, never from the thread count, which is what keeps
/// results independent of the number of threads.
[<RequireQualifiedAccess>]
module internal Parallel =

    /// Runs body 0 .. chunks − 1, each exactly once, in parallel when more than one thread is
    /// allowed and <paramref name="worthIt"/> says the work is large enough to pay for it.
    let forChunks (worthIt: bool) (chunks: int) (body: int -> unit) : unit =
        let threads = Threads.Count

        if chunks <= 1 || threads <= 1 || not worthIt then
            for c in 0 .. chunks - 1 do
                body c
        else
            let options = ParallelOptions(MaxDegreeOfParallelism = min threads chunks)
            Parallel.For(0, chunks, options, (fun c -> body c)) |> ignore

    /// The number of chunks of (at most) <paramref name="chunkSize"/> elements that cover
    /// <paramref name="length"/> elements.
    let chunkCount (length: int) (chunkSize: int) : int = if length = 0 then 0 else (length + chunkSize - 1) / chunkSize
