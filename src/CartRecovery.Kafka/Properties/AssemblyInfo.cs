using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("CartRecovery.Kafka.Tests")]
