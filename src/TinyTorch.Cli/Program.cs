using TinyTorch.Cli;

return Commands.Run(args, Console.Out, Console.Error);
