using TinyTorch.Data;
using TinyTorch.Nn;
using TinyTorch.Optim;

namespace TinyTorch.Cli;

/// <summary>What a training run needs: where the data comes from and the model and optimizer settings.</summary>
/// <param name="Data">digits, idx:&lt;folder&gt; or csv:&lt;file&gt;.</param>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="BatchSize">Samples per step.</param>
/// <param name="LearningRate">The optimizer's learning rate.</param>
/// <param name="Optimizer">sgd, adam or adamw.</param>
/// <param name="Hidden">Hidden layer widths.</param>
/// <param name="Seed">Seeds the weights, the shuffling and the split.</param>
public sealed record TrainingOptions(string Data, int Epochs, int BatchSize, double LearningRate, string Optimizer, int[] Hidden, int Seed);

/// <summary>One epoch's figures.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Loss">Mean training loss over the epoch's batches.</param>
/// <param name="TestAccuracy">Accuracy on the test set after the epoch.</param>
public sealed record EpochResult(int Epoch, double Loss, double TestAccuracy);

/// <summary>Data sets, the MLP, the training loop and evaluation shared by <c>train</c> and <c>eval</c>.</summary>
public static class Training
{
    /// <summary>The fraction of a data set without its own test split held out for testing.</summary>
    public const double TestFraction = 0.2;

    /// <summary>Loads the train and test sets named by <paramref name="data"/>.</summary>
    /// <param name="data">digits, idx:&lt;folder&gt; or csv:&lt;file&gt; (last column the class).</param>
    /// <param name="seed">Seeds the stratified split of data sets without a test split.</param>
    /// <returns>The two sets.</returns>
    /// <exception cref="ArgumentException">An unknown data source.</exception>
    public static (TensorDataset Train, TensorDataset Test) Load(string data, int seed) => data switch
    {
        "digits" => Digits.Split(TestFraction, seed),
        _ when data.StartsWith("idx:", StringComparison.Ordinal) => Idx.LoadFolder(data[4..]),
        _ when data.StartsWith("csv:", StringComparison.Ordinal) => WithFloat32Features(Csv.ReadLabelled(data[4..])).StratifiedSplit(TestFraction, seed),
        _ => throw new ArgumentException($"unknown data source '{data}': use digits, idx:<folder> or csv:<file>."),
    };

    private static TensorDataset WithFloat32Features(TensorDataset set) => new(set.Features.ToFloat32(), set.Labels);

    /// <summary>The number of classes: the largest label plus one.</summary>
    /// <param name="set">A labelled data set.</param>
    /// <returns>The class count.</returns>
    public static int ClassCount(TensorDataset set) => (int)set.Labels.ToInt64Array().Max() + 1;

    /// <summary>An MLP: Linear → ReLU for each hidden width, then a Linear to the classes (float32, seeded).</summary>
    /// <param name="inputs">Features per sample.</param>
    /// <param name="hidden">Hidden widths.</param>
    /// <param name="classes">Outputs.</param>
    /// <param name="seed">Seeds the weights.</param>
    /// <returns>The model.</returns>
    public static Sequential Mlp(int inputs, IReadOnlyList<int> hidden, int classes, int seed)
    {
        var random = new Random(seed);
        var layers = new List<Module>();
        var width = inputs;
        foreach (var h in hidden)
        {
            layers.Add(new Linear(width, h, random: random));
            layers.Add(new ReLU());
            width = h;
        }
        layers.Add(new Linear(width, classes, random: random));
        return new Sequential([.. layers]);
    }

    /// <summary>The optimizer named by <paramref name="name"/>.</summary>
    /// <param name="name">sgd (with momentum 0.9), adam or adamw.</param>
    /// <param name="parameters">The model's parameters.</param>
    /// <param name="lr">The learning rate.</param>
    /// <returns>The optimizer.</returns>
    public static Optimizer CreateOptimizer(string name, IEnumerable<Variable> parameters, double lr) => name switch
    {
        "sgd" => new Sgd(parameters, lr, momentum: 0.9),
        "adam" => new Adam(parameters, lr),
        "adamw" => new AdamW(parameters, lr),
        _ => throw new ArgumentException($"unknown optimizer '{name}': use sgd, adam or adamw."),
    };

    /// <summary>One epoch of mini-batch training with cross-entropy; returns the mean batch loss.</summary>
    /// <param name="model">The model (put in training mode).</param>
    /// <param name="optimizer">Its optimizer.</param>
    /// <param name="loader">The training batches.</param>
    /// <param name="epoch">0-based epoch (chooses the shuffle).</param>
    /// <param name="afterBatch">Called after each batch with the number done so far and the running mean loss.</param>
    /// <returns>The mean loss over the epoch's batches.</returns>
    public static double TrainEpoch(Module model, Optimizer optimizer, DataLoader loader, int epoch, Action<int, double>? afterBatch = null)
    {
        model.Train();
        var total = 0.0;
        var batches = 0;
        foreach (var (features, labels) in loader.EpochBatches(epoch))
        {
            var loss = Autograd.CrossEntropy(model.Forward(new Variable(features, requiresGrad: false)), labels);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
            total += loss.Item();
            batches++;
            afterBatch?.Invoke(batches, total / batches);
        }
        return total / Math.Max(batches, 1);
    }

    /// <summary>Predicted classes for every sample (the model in evaluation mode).</summary>
    /// <param name="model">The model.</param>
    /// <param name="features">[N, inputs] features.</param>
    /// <returns>The predicted class per sample.</returns>
    public static long[] Predict(Module model, Tensor features)
    {
        model.Eval();
        return Autograd.ArgMax(model.Forward(new Variable(features, requiresGrad: false)), axis: 1).ToInt64Array();
    }

    /// <summary>The fraction of samples whose predicted class is their label.</summary>
    /// <param name="predicted">Predicted classes.</param>
    /// <param name="labels">The labels.</param>
    /// <returns>The accuracy in [0, 1].</returns>
    public static double Accuracy(long[] predicted, Tensor labels)
    {
        var truth = labels.ToInt64Array();
        return truth.Length == 0 ? 0 : predicted.Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length;
    }

    /// <summary>counts[true, predicted].</summary>
    /// <param name="predicted">Predicted classes.</param>
    /// <param name="labels">The labels.</param>
    /// <param name="classes">The class count.</param>
    /// <returns>The confusion matrix.</returns>
    public static int[,] ConfusionMatrix(long[] predicted, Tensor labels, int classes)
    {
        var matrix = new int[classes, classes];
        foreach (var (p, t) in predicted.Zip(labels.ToInt64Array()))
        {
            matrix[t, p]++;
        }
        return matrix;
    }

    /// <summary>Writes the confusion matrix as a text table (rows: true class, columns: predicted).</summary>
    /// <param name="output">Where to write.</param>
    /// <param name="matrix">The matrix.</param>
    public static void WriteConfusionMatrix(TextWriter output, int[,] matrix)
    {
        var n = matrix.GetLength(0);
        output.WriteLine("confusion matrix (rows: true class, columns: predicted class)");
        output.WriteLine("      " + string.Concat(Enumerable.Range(0, n).Select(c => $"{c,5}")));
        for (var r = 0; r < n; r++)
        {
            output.WriteLine($"{r,5} " + string.Concat(Enumerable.Range(0, n).Select(c => $"{matrix[r, c],5}")));
        }
    }
}
