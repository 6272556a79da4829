namespace TinyTorch.Functional

open System
open System.Collections.Generic
open System.Threading

/// A pool of large tensor buffers, in exact-length buckets, so that a training loop reuses the
/// same few arrays instead of allocating fresh ones on the large-object heap (whose budget is what
/// triggers gen-2 collections, and whose fresh pages cost page faults).
///
/// Ownership: a rented array is wrapped by exactly one <see cref="PooledStorage"/>, shared by every
/// tensor that views it (a reshape shares the storage object, never the raw array alone). When the
/// storage becomes unreachable its finalizer gives the array back. Because only the GC knows when a
/// tensor dies, <see cref="rent"/> asks for a cheap gen-1 collection (and waits for finalizers)
/// when the bucket is empty and much pooled memory has been handed out since the last one, rather
/// than allocate: after one such collection per step, a steady loop finds every buffer it needs
/// here. Pooled arrays are not cleared: kernels that accumulate rent with <c>clear = true</c>.
[<RequireQualifiedAccess>]
module internal Pool =

    /// Arrays shorter than this come straight from the GC (small objects are cheap and die young).
    [<Literal>]
    let Threshold = 16384

    /// Pooled bytes handed out between two induced collections, at least (so that a collection, about
    /// 0.3 ms here, costs a small share of the work done with the buffers); at least 16 arrays of the
    /// size asked for, too: a loop over large arrays that collected at every few steps would find its
    /// longer-lived buffers (the gradients kept from one step to the next) promoted to gen 2 by two
    /// collections, where no gen-1 collection finds them dead.
    let private budget = 64L * 1024L * 1024L

    /// The most bytes the pool keeps idle; arrays returned beyond it are left to the GC.
    let private capacity =
        let available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes
        if available <= 0L then 1L <<< 30 else min (available / 4L) (4L <<< 30)

    /// Arrays larger than this many bytes are never pooled: a pool that kept, say, a 400 MB buffer
    /// idle after one huge computation would hold that memory for the rest of the process.
    [<Literal>]
    let CeilingBytes = 67108864L

    /// Whether an array of this many elements of this size goes through the pool.
    let isPooled (length: int) (elementSize: int) = length >= Threshold && int64 length * int64 elementSize <= CeilingBytes

    let private gate = obj ()
    let private buckets = Dictionary<struct (Type * int), Stack<Array>>()
    /// Bytes idle in the buckets.
    let mutable private idleBytes = 0L
    /// Bytes held by live pooled storages (handed out, not yet given back).
    let mutable private liveBytes = 0L
    /// Bytes handed out since the last induced collection.
    let mutable private rentedSinceCollect = 0L
    let mutable private released = 0L

    let private tryTake (key: struct (Type * int)) (bytes: int64) : Array =
        lock gate (fun () ->
            rentedSinceCollect <- rentedSinceCollect + bytes

            match buckets.TryGetValue key with
            | true, stack when stack.Count > 0 ->
                idleBytes <- idleBytes - bytes
                stack.Pop()
            | _ -> null)

    /// Gives an array back (called by the storage finalizer); dropped when the pool is full.
    let give (a: Array) : unit =
        let bytes = int64 (Buffer.ByteLength a)

        lock gate (fun () ->
            liveBytes <- liveBytes - bytes

            if idleBytes + bytes <= capacity then
                let key = struct (a.GetType().GetElementType(), a.Length)

                let stack =
                    match buckets.TryGetValue key with
                    | true, s -> s
                    | _ ->
                        let s = Stack<Array>()
                        buckets[key] <- s
                        s

                stack.Push a
                idleBytes <- idleBytes + bytes)

    /// Records that a pooled storage now owns <paramref name="bytes"/>.
    let adopt (bytes: int64) : unit = lock gate (fun () -> liveBytes <- liveBytes + bytes)

    // A collection beats a new array: a new large array costs a page fault per 4 KB on first touch,
    // about 8 µs each on this machine's virtualized memory (a 4 MB float32 array: 8.7 ms, against
    // 0.3 ms for the collection), and its large-object allocations bring on gen-2 collections. The
    // budget is not scaled by the live bytes: a budget grown while a large computation ran let the next,
    // smaller one allocate hundreds of megabytes of new arrays before its first collection (a 512²
    // product ran at 31–57 instead of 190 GFLOP/s after the 10⁷-element workload). While the live set
    // grows, a collection that finds nothing costs 0.3 ms per 16 new arrays, a small share of their
    // page faults.
    let private shouldCollect (bytes: int64) =
        lock gate (fun () -> liveBytes > 0L && rentedSinceCollect >= max budget (16L * bytes))

    /// A gen-1 collection, then the storages found dead give their arrays back.
    let private collect () =
        GC.Collect(1, GCCollectionMode.Forced, true, false)
        GC.WaitForPendingFinalizers()
        lock gate (fun () -> rentedSinceCollect <- 0L)

    /// An array of exactly <paramref name="length"/> elements: from the pool when it is large and one
    /// is idle, else new. Its contents are arbitrary unless <paramref name="clear"/> is set.
    let rent<'T> (length: int) (clear: bool) : 'T[] =
        if not (isPooled length (Runtime.CompilerServices.Unsafe.SizeOf<'T>())) then
            if clear || length < Threshold then Array.zeroCreate<'T> length else GC.AllocateUninitializedArray<'T>(length)
        else
            let key = struct (typeof<'T>, length)
            let bytes = int64 length * int64 (Runtime.CompilerServices.Unsafe.SizeOf<'T>())

            let a =
                match tryTake key bytes with
                | null when shouldCollect bytes ->
                    collect ()
                    tryTake key 0L
                | a -> a

            match a with
            | null -> if clear then Array.zeroCreate<'T> length else GC.AllocateUninitializedArray<'T>(length)
            | a ->
                let a = a :?> 'T[]
                if clear then Array.Clear a
                a

    /// Counts an array given back explicitly (not by a finalizer), for tests and diagnostics.
    let noteRelease () = Interlocked.Increment(&released) |> ignore

    /// How many arrays were given back explicitly, before any collection found them dead.
    let explicitReleases () = Volatile.Read(&released)

    /// Bytes idle in the pool (for tests and diagnostics).
    let idle () = lock gate (fun () -> idleBytes)

/// The owner of a tensor's array. Tensors that view the same array (a reshape) share this object.
[<AllowNullLiteral>]
type internal Storage(array: Array) =
    /// The elements.
    member _.Array = array

/// Storage for an array rented from <see cref="Pool"/>: when the last tensor viewing it is gone,
/// the finalizer gives the array back, unless an owner that knows no tensor will read it again
/// (the reverse engine, for the cotangents only it holds) gave it back first with <see cref="Release"/>.
[<Sealed; AllowNullLiteral>]
type internal PooledStorage(array: Array) =
    inherit Storage(array)
    /// Serial numbers in creation order, so a pass can tell the storages made after it started.
    static let mutable lastSerial = 0L
    let serial = Interlocked.Increment(&lastSerial)
    /// 1 once the array went back to the pool (by <see cref="Release"/> or the finalizer): given once only.
    let mutable released = 0
    do Pool.adopt (int64 (Buffer.ByteLength array))

    /// The serial of the newest pooled storage made so far (any thread).
    static member LastSerial = Volatile.Read(&lastSerial)

    /// This storage's serial: larger than <see cref="LastSerial"/> read before it was made.
    member _.Serial = serial

    /// Whether the array went back to the pool already.
    member _.IsReleased = Volatile.Read(&released) = 1

    /// Gives the array back now (no finalizer later). Only for an owner that knows no tensor viewing
    /// this storage will be read again: the array may be handed to the next renter at once.
    member this.Release() =
        if Interlocked.Exchange(&released, 1) = 0 then
            GC.SuppressFinalize this
            Pool.noteRelease ()
            Pool.give array

    override _.Finalize() =
        if Interlocked.Exchange(&released, 1) = 0 then Pool.give array
