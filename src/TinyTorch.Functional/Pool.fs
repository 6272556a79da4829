namespace TinyTorch.Functional

open System
open System.Collections.Generic
open System.Threading

/// One bucket of <see cref="IdleArrays"/>: arrays of one element type and length.
[<Sealed; AllowNullLiteral>]
type internal IdleBucket() =
    /// The idle arrays, the one given back last on top.
    member val Arrays = Stack<Array>()
    /// The value of the owner's clock at the bucket's latest use.
    member val LastUse = 0L with get, set

/// The idle arrays of a pool, in buckets of one element type and length each, holding at most
/// <paramref name="capacity"/> bytes. When an array given back does not fit, the buckets used least
/// recently give up their arrays first, so sizes a program stopped using do not keep out the sizes it
/// uses now. Not thread-safe: the pool calls it under its lock.
[<Sealed>]
type internal IdleArrays(capacity: int64) =
    let buckets = Dictionary<struct (Type * int), IdleBucket>()
    /// Counts takes and puts; a bucket's last use is the count at its latest take or put.
    let mutable clock = 0L
    let mutable bytes = 0L

    let bucketOf (key: struct (Type * int)) =
        clock <- clock + 1L

        let bucket =
            match buckets.TryGetValue key with
            | true, b -> b
            | _ ->
                let b = IdleBucket()
                buckets[key] <- b
                b

        bucket.LastUse <- clock
        bucket

    /// Drops arrays of the least recently used other buckets until <paramref name="needed"/> more
    /// bytes fit; false, dropping nothing, when even dropping all of them would not be enough.
    let makeRoom (needed: int64) (keep: IdleBucket) =
        // keep's arrays all have this size; once they and the new one fit, some other bucket holds the excess.
        if int64 (keep.Arrays.Count + 1) * needed > capacity then
            false
        else
            while bytes + needed > capacity do
                let mutable oldest: IdleBucket = null

                for b in buckets.Values do
                    if not (obj.ReferenceEquals(b, keep)) && b.Arrays.Count > 0 && (isNull oldest || b.LastUse < oldest.LastUse) then
                        oldest <- b

                bytes <- bytes - int64 (Buffer.ByteLength(oldest.Arrays.Pop()))

            true

    /// An idle array of this element type and length, or null.
    member _.Take(elementType: Type, length: int) : Array =
        let bucket = bucketOf (struct (elementType, length))

        if bucket.Arrays.Count = 0 then
            null
        else
            let a = bucket.Arrays.Pop()
            bytes <- bytes - int64 (Buffer.ByteLength a)
            a

    /// Keeps an array for a later <see cref="Take"/>; false when it does not fit (then it is left to the GC).
    member _.Put(a: Array) : bool =
        let size = int64 (Buffer.ByteLength a)
        let bucket = bucketOf (struct (a.GetType().GetElementType(), a.Length))

        if makeRoom size bucket then
            bucket.Arrays.Push a
            bytes <- bytes + size
            true
        else
            false

    /// The bytes held, as counted by Take and Put.
    member _.Bytes = bytes

    /// The bytes held, added up array by array (for tests: equals <see cref="Bytes"/>).
    member _.Recount() =
        let mutable total = 0L

        for b in buckets.Values do
            for a in b.Arrays do
                total <- total + int64 (Buffer.ByteLength a)

        total

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
    let private idleArrays = IdleArrays(capacity)
    /// Bytes held by live pooled storages (handed out, not yet given back).
    let mutable private liveBytes = 0L
    /// Bytes handed out since the last induced collection.
    let mutable private rentedSinceCollect = 0L
    let mutable private released = 0L

    /// An idle array of this element type and length, or null; counts <paramref name="bytes"/> as handed
    /// out when <paramref name="counts"/> (a retry after a collection was counted by the first try).
    let private tryTake (elementType: Type) (length: int) (bytes: int64) (counts: bool) : Array =
        lock gate (fun () ->
            if counts then rentedSinceCollect <- rentedSinceCollect + bytes
            idleArrays.Take(elementType, length))

    /// Gives an array back (called by the storage finalizer). When the pool is full, idle arrays of the
    /// sizes used least recently make room; the array is dropped only when that is not enough.
    let give (a: Array) : unit =
        lock gate (fun () ->
            liveBytes <- liveBytes - int64 (Buffer.ByteLength a)
            idleArrays.Put a |> ignore)

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
            let bytes = int64 length * int64 (Runtime.CompilerServices.Unsafe.SizeOf<'T>())

            let a =
                match tryTake typeof<'T> length bytes true with
                | null when shouldCollect bytes ->
                    collect ()
                    tryTake typeof<'T> length bytes false
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
    let idle () = lock gate (fun () -> idleArrays.Bytes)

    /// Bytes idle in the pool, added up array by array (for tests: equals <see cref="idle"/>).
    let idleRecounted () = lock gate (fun () -> idleArrays.Recount())

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
    /// Set once a deferred expression may still read the array (see <see cref="Pin"/>).
    let mutable pinned = false
    do Pool.adopt (int64 (Buffer.ByteLength array))

    /// The serial of the newest pooled storage made so far (any thread).
    static member LastSerial = Volatile.Read(&lastSerial)

    /// This storage's serial: larger than <see cref="LastSerial"/> read before it was made.
    member _.Serial = serial

    /// Whether the array went back to the pool already.
    member _.IsReleased = Volatile.Read(&released) = 1

    /// Refuses any later <see cref="Release"/>: a deferred expression took a tensor of this storage as an
    /// operand, so the array may be read after its tensors' last direct use.
    member _.Pin() = Volatile.Write(&pinned, true)

    /// Gives the array back now (no finalizer later). Only for an owner that knows no tensor viewing
    /// this storage will be read again: the array may be handed to the next renter at once. Does
    /// nothing for a pinned storage.
    member this.Release() =
        if not (Volatile.Read(&pinned)) && Interlocked.Exchange(&released, 1) = 0 then
            GC.SuppressFinalize this
            Pool.noteRelease ()
            Pool.give array

    override _.Finalize() =
        if Interlocked.Exchange(&released, 1) = 0 then Pool.give array
