using TinyTorch.IO;

namespace TinyTorch.Tests;

/// <summary>Checkpoints: parameters and optimizer state through safetensors, all-or-nothing loading.</summary>
public class CheckpointTests
{
    private static Variable Weight() => new(Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3));

    private static Variable Bias() => new(new[] { 0.5, -0.5, 0.25 });

    private static KeyValuePair<string, Variable>[] Named(Variable weight, Variable bias) =>
        [new("layer.weight", weight), new("layer.bias", bias)];

    [Fact]
    public void Parameters_and_optimizer_state_round_trip()
    {
        using var folder = new TempFolder();
        var path = folder.File("checkpoint.safetensors");
        var (weight, bias) = (Weight(), Bias());
        var state = new Dictionary<string, Tensor>
        {
            ["step"] = new Tensor(new long[] { 12 }),
            ["m.layer.weight"] = Tensor.Full(Shape.Of(2, 3), 0.1, DType.Float32),
        };
        Checkpoint.Save(path, Named(weight, bias), state, new Dictionary<string, string> { ["epoch"] = "3" });

        var (weight2, bias2) = (new Variable(Tensor.Zeros(Shape.Of(2, 3), DType.Float32)), new Variable(new double[3]));
        var loadedState = Checkpoint.Load(path, Named(weight2, bias2));
        Assert.Equal(weight.Data.ToArray(), weight2.Data.ToArray());
        Assert.Equal(DType.Float32, weight2.DType);
        Assert.Equal(bias.Data.ToArray(), bias2.Data.ToArray());
        Assert.True(weight2.IsLeaf && weight2.RequiresGrad);
        Assert.Equal(["m.layer.weight", "step"], loadedState.Keys);
        Assert.Equal(12L, loadedState["step"].GetInt64Flat(0));

        // The file is plain safetensors: the names PyTorch's state_dict would use, optimizer tensors prefixed.
        var (tensors, metadata) = SafeTensors.Load(path);
        Assert.Equal(["layer.bias", "layer.weight", "optimizer.m.layer.weight", "optimizer.step"], tensors.Keys);
        Assert.Equal("3", metadata["epoch"]);
    }

    [Fact]
    public void Loaded_parameters_train_on_from_the_saved_values()
    {
        using var folder = new TempFolder();
        var path = folder.File("w.safetensors");
        var w = new Variable(new[] { 2.0 });
        Checkpoint.Save(path, [new("w", w)]);
        var restored = new Variable(new[] { 0.0 });
        Checkpoint.Load(path, [new("w", restored)]);
        // loss = w², so d loss / dw = 2w = 4 at the restored w = 2.
        var loss = Autograd.SumAll(restored * restored);
        loss.Backward();
        Assert.Equal(4.0, Check.GradOf(restored).Item());
    }

    [Fact]
    public void A_shape_mismatch_changes_no_parameter_and_names_the_tensor_and_both_shapes()
    {
        using var folder = new TempFolder();
        var path = folder.File("checkpoint.safetensors");
        Checkpoint.Save(path, Named(Weight(), Bias()));

        // The bias matches and comes first alphabetically; the weight is transposed.
        var weight = new Variable(Tensor.Zeros(Shape.Of(3, 2), DType.Float32));
        var bias = new Variable(new double[3]);
        var (weightData, biasData) = (weight.Data, bias.Data);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, Named(weight, bias)));
        Assert.StartsWith(path + ": ", ex.Message);
        Assert.Contains("'layer.weight': expected Float32 [3, 2], found Float32 [2, 3]", ex.Message);
        Assert.Same(weightData, weight.Data);
        Assert.Same(biasData, bias.Data);
    }

    [Fact]
    public void A_dtype_mismatch_changes_no_parameter()
    {
        using var folder = new TempFolder();
        var path = folder.File("checkpoint.safetensors");
        Checkpoint.Save(path, Named(Weight(), Bias()));
        var weight = new Variable(Tensor.Zeros(Shape.Of(2, 3), DType.Float64));
        var bias = new Variable(new double[3]);
        var (weightData, biasData) = (weight.Data, bias.Data);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, Named(weight, bias)));
        Assert.Contains("expected Float64 [2, 3], found Float32 [2, 3]", ex.Message);
        Assert.Same(weightData, weight.Data);
        Assert.Same(biasData, bias.Data);
    }

    [Fact]
    public void A_missing_or_extra_tensor_changes_no_parameter_and_every_problem_is_listed()
    {
        using var folder = new TempFolder();
        var path = folder.File("checkpoint.safetensors");
        Checkpoint.Save(path, [new("layer.weight", Weight()), new("other", new Variable(1.0))]);
        var (weight, bias) = (Weight(), Bias());
        var (weightData, biasData) = (weight.Data, bias.Data);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, Named(weight, bias)));
        Assert.Contains("'layer.bias' is missing (expected Float64 [3])", ex.Message);
        Assert.Contains("'other' (Float64 []) matches no parameter", ex.Message);
        Assert.Same(weightData, weight.Data);
        Assert.Same(biasData, bias.Data);
    }

    [Fact]
    public void A_corrupt_checkpoint_changes_no_parameter()
    {
        using var folder = new TempFolder();
        var path = folder.File("checkpoint.safetensors");
        Checkpoint.Save(path, Named(Weight(), Bias()));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        var (weight, bias) = (new Variable(Tensor.Zeros(Shape.Of(2, 3), DType.Float32)), new Variable(new double[3]));
        var (weightData, biasData) = (weight.Data, bias.Data);
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, Named(weight, bias)));
        Assert.Same(weightData, weight.Data);
        Assert.Same(biasData, bias.Data);
    }

    [Fact]
    public void Bad_parameter_lists_are_refused_before_any_file_is_touched()
    {
        using var folder = new TempFolder();
        var path = folder.File("checkpoint.safetensors");
        var w = Weight();
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, [new("w", w), new("w", Bias())])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, [new("optimizer.w", w)])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, [new("__metadata__", w)])).Message);
        Assert.Empty(folder.FileNames());

        Checkpoint.Save(path, [new("w", w)]);
        var notLeaf = w * 2.0;
        Assert.Contains("not a leaf", Assert.Throws<ArgumentException>(() => Checkpoint.Load(path, [new("w", notLeaf)])).Message);
    }

    [Fact]
    public void Optimizer_tensors_in_the_file_do_not_count_as_extra_parameters()
    {
        using var folder = new TempFolder();
        var path = folder.File("checkpoint.safetensors");
        var w = Weight();
        Checkpoint.Save(path, [new("w", w)], new Dictionary<string, Tensor> { ["lr"] = new Tensor(0.01) });
        var state = Checkpoint.Load(path, [new("w", Weight())]);
        Assert.Equal(0.01, state["lr"].Item());
        Assert.Equal(["lr"], state.Keys);
    }
}
