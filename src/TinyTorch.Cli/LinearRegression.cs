namespace TinyTorch.Cli;

/// <summary>
/// The course's complete ML pipeline: fit y = w·x + b to five points near y = 2x + 1 by gradient
/// descent on the summed squared error, one scalar op at a time, through the public C# API.
/// </summary>
public static class LinearRegression
{
    /// <summary>The course's data: y ≈ 2x + 1 with noise.</summary>
    public static readonly double[] X = [1.0, 2.0, 3.0, 4.0, 5.0];

    /// <summary>The targets for <see cref="X"/>.</summary>
    public static readonly double[] Y = [3.1, 4.9, 7.2, 9.1, 10.8];

    /// <summary>Trains for 100 epochs with learning rate 0.01 from w = 0.1, b = 0, printing the loss every 10 epochs.</summary>
    /// <param name="output">Where the progress and the result go.</param>
    /// <returns>0.</returns>
    public static int Run(TextWriter output)
    {
        const double learningRate = 0.01;
        const int epochs = 100;
        var w = new Variable(0.1);
        var b = new Variable(0.0);
        output.WriteLine("Training y = w·x + b on the course's data (lr 0.01, 100 epochs, loss = Σ (w·x + b − y)²)");

        for (var epoch = 0; epoch < epochs; epoch++)
        {
            Variable totalLoss = 0.0;
            for (var i = 0; i < X.Length; i++)
            {
                var prediction = w * X[i] + b;
                var difference = prediction - Y[i];
                totalLoss += difference * difference;
            }

            totalLoss.Backward();
            w.Data -= learningRate * w.Grad!.Data;
            b.Data -= learningRate * b.Grad!.Data;
            Autograd.ZeroGradients([w, b]);

            if (epoch % 10 == 0 || epoch == epochs - 1)
            {
                output.WriteLine($"epoch {epoch,3}: loss = {totalLoss.Item():F4}, w = {w.Item():F4}, b = {b.Item():F4}");
            }
        }

        var forSix = w * 6.0 + b;
        output.WriteLine($"learned w = {w.Item():F4}, b = {b.Item():F4} (true line: w = 2, b = 1)");
        output.WriteLine($"prediction at x = 6: {forSix.Item():F3} (true value 13)");
        return 0;
    }
}
