System.Console.WriteLine("tinytorch");
