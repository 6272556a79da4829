namespace TinyTorch.Functional.Testing

open FsCheck
open FsCheck.FSharp
open TinyTorch

/// The Arbitrary class to register with FsCheck, e.g.
/// <c>[&lt;Property(Arbitrary = [| typeof&lt;Arbitraries&gt; |])&gt;]</c> or
/// <c>Config.QuickThrowOnFailure.WithArbitrary([ typeof&lt;Arbitraries&gt; ])</c>: properties can then take
/// <see cref="T:TinyTorch.Shape"/>, <see cref="BroadcastPair"/>, <see cref="IncompatiblePair"/> and
/// <see cref="T:TinyTorch.Tensor"/> (domain <see cref="Domain.Any"/>) arguments, all with validity-keeping shrinkers.
/// For other domains and for tuples of inputs use <see cref="GradientInputs"/>.
[<AbstractClass; Sealed>]
type Arbitraries =
    /// Shapes of rank 0–4 with dimensions 1–4; shrinks by lowering the rank and setting dimensions to 1.
    static member Shape() : Arbitrary<Shape> = Arb.fromGenShrink (Generators.shape, Shrink.shape)

    /// Broadcast-compatible shape pairs; shrinks each shape while they stay compatible.
    static member BroadcastPair() : Arbitrary<BroadcastPair> = Arb.fromGenShrink (Generators.broadcastPair, Shrink.broadcastPair)

    /// Incompatible shape pairs; shrinks each shape while they still clash.
    static member IncompatiblePair() : Arbitrary<IncompatiblePair> =
        Arb.fromGenShrink (Generators.incompatiblePair, Shrink.incompatiblePair)

    /// Float64 tensors of rank 0–4 with values in [−3, 3]; shrinks to sub-tensors and simpler values.
    static member Tensor() : Arbitrary<Tensor> = Arb.fromGenShrink (Generators.tensor Domain.Any, Shrink.tensor Domain.Any)

/// Arbitraries of inputs for gradient properties, with values from a domain and shrinkers that keep
/// every candidate valid. Use with <c>Prop.forAll</c> (F#) or <c>Prop.ForAll</c> (C#).
[<AbstractClass; Sealed>]
type GradientInputs =
    /// Values of the domain; shrinks toward the domain's simplest values.
    static member Value(domain: Domain) : Arbitrary<float> = Arb.fromGenShrink (Generators.value domain, Shrink.value domain)

    /// One tensor of a random shape (rank 0–4, dimensions 1–4); shrinks to sub-tensors and simpler values.
    static member Tensor(domain: Domain) : Arbitrary<Tensor> = Arb.fromGenShrink (Generators.tensor domain, Shrink.tensor domain)

    /// One tensor of the given shape; shrinks its values only.
    static member Tensor(domain: Domain, shape: Shape) : Arbitrary<Tensor> =
        Arb.fromGenShrink (Generators.tensorOfShape domain shape, Shrink.values domain)

    /// <paramref name="arity"/> tensors of one shared random shape (rank 0–3, dimensions 1–3); shrinks
    /// the shape of all of them together, then their values.
    static member SameShape(domain: Domain, arity: int) : Arbitrary<Tensor[]> =
        Arb.fromGenShrink (Generators.inputs domain arity, Shrink.inputs domain)

    /// <paramref name="arity"/> tensors of one shared shape drawn from <paramref name="shapes"/>. The shrinker
    /// tries sub-shapes (lower rank, dimensions set to 1), so use it when every sub-shape of a generated
    /// shape suits the function; otherwise use <see cref="OfShapes"/>.
    static member SameShape(domain: Domain, arity: int, shapes: Gen<Shape>) : Arbitrary<Tensor[]> =
        Arb.fromGenShrink (Generators.inputsWith shapes domain arity, Shrink.inputs domain)

    /// One tensor per given shape (for ops with shape rules of their own, e.g. matmul); shrinks values only.
    static member OfShapes(domain: Domain, [<System.ParamArray>] shapes: Shape[]) : Arbitrary<Tensor[]> =
        Arb.fromGenShrink (Generators.inputsOfShapes domain shapes, Shrink.inputsOfShapes domain)

    /// Two tensors whose shapes broadcast together; shrinks each shape while they stay compatible, then values.
    static member Broadcast(domain: Domain) : Arbitrary<Tensor[]> =
        Arb.fromGenShrink (Generators.broadcastInputs domain, Shrink.broadcastInputs domain)
