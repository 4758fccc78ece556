using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using CartRecovery.Streaming.Checkpointing;
using Xunit.Sdk;

namespace CartRecovery.Streaming.Tests.Checkpointing;

/// <summary>
/// Random partition checkpoints in which every public settable property (or constructor parameter) of every record in
/// the graph holds a generated value: extremes of times, offsets, decimals and doubles, empty and non-ASCII strings, null
/// where the type allows it, default and empty arrays. Built by reflection, so a field added to a domain record is
/// generated too, and a codec that does not carry it fails the round trip. <paramref name="jsonSafe"/> keeps to what the
/// JSON of earlier releases could hold (no default arrays, finite doubles, UTC <see cref="DateTime"/>s).
/// </summary>
internal sealed class CheckpointGenerator(int seed, bool jsonSafe = false)
{
    private readonly Random _random = new(seed);
    private readonly NullabilityInfoContext _nullability = new();

    public PartitionCheckpoint Checkpoint() => (PartitionCheckpoint)Value(typeof(PartitionCheckpoint), nullable: false)!;

    private object? Value(Type type, bool nullable)
    {
        if (nullable && !type.IsValueType && _random.Next(5) == 0) return null;
        if (Nullable.GetUnderlyingType(type) is { } underlying) return _random.Next(3) == 0 ? null : Value(underlying, nullable: false);
        if (type == typeof(string)) return Text();
        if (type == typeof(bool)) return _random.Next(2) == 0;
        if (type == typeof(int)) return Pick(0, 1, -1, int.MaxValue, int.MinValue, _random.Next());
        if (type == typeof(long)) return Pick(0L, -1L, long.MaxValue, long.MinValue, _random.NextInt64());
        if (type == typeof(ulong)) return Pick(0UL, ulong.MaxValue, (ulong)_random.NextInt64());
        if (type == typeof(double)) return jsonSafe ? _random.NextDouble() * 2 - 1 : Pick(0.0, -0.0, double.NaN, double.PositiveInfinity, double.Epsilon, _random.NextDouble());
        if (type == typeof(decimal)) return Decimal();
        if (type == typeof(DateTimeOffset)) return Time();
        if (type == typeof(DateTime))
            return new DateTime(_random.NextInt64(DateTime.MaxValue.Ticks), jsonSafe ? DateTimeKind.Utc : Pick(DateTimeKind.Utc, DateTimeKind.Unspecified));
        if (type.IsEnum)
        {
            var values = Enum.GetValues(type);
            return values.GetValue(_random.Next(values.Length));
        }
        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            var args = type.GetGenericArguments();
            if (definition == typeof(ImmutableArray<>))
            {
                if (!jsonSafe && _random.Next(6) == 0) return Activator.CreateInstance(type); // default
                return typeof(ImmutableArray).GetMethods().First(m => m.Name == nameof(ImmutableArray.CreateRange) && m.GetParameters().Length == 1)
                    .MakeGenericMethod(args[0]).Invoke(null, [Items(args[0])]);
            }
            if (definition == typeof(ImmutableList<>))
                return typeof(ImmutableList).GetMethod(nameof(ImmutableList.CreateRange))!.MakeGenericMethod(args[0]).Invoke(null, [Items(args[0])]);
            if (definition == typeof(List<>))
                return Activator.CreateInstance(type, Items(args[0]));
            if (definition == typeof(ImmutableSortedDictionary<,>))
                return Fill(typeof(ImmutableSortedDictionary).GetMethods()
                    .First(m => m.Name == nameof(ImmutableSortedDictionary.CreateBuilder) && m.GetParameters().Length == 1)
                    .MakeGenericMethod(args).Invoke(null, [StringComparer.Ordinal])!, args[1], immutable: true);
            if (definition == typeof(ImmutableDictionary<,>))
                return Fill(typeof(ImmutableDictionary).GetMethods()
                    .First(m => m.Name == nameof(ImmutableDictionary.CreateBuilder) && m.GetParameters().Length == 0)
                    .MakeGenericMethod(args).Invoke(null, [])!, args[1], immutable: true);
            if (definition == typeof(Dictionary<,>))
                return Fill(Activator.CreateInstance(type)!, args[1], immutable: false);
        }
        return Record(type);
    }

    /// <summary>A record: the public constructor with the most parameters, then every public setter it did not cover.</summary>
    private object Record(Type type)
    {
        if (type.Namespace?.StartsWith("CartRecovery", StringComparison.Ordinal) != true)
            throw new InvalidOperationException($"the generator does not know {type}: add it");
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault();
        var parameters = constructor?.GetParameters() ?? [];
        var instance = constructor is null
            ? Activator.CreateInstance(type)!
            : constructor.Invoke([.. parameters.Select(p => Value(p.ParameterType, _nullability.Create(p).WriteState == NullabilityState.Nullable))]);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0) continue;
            if (parameters.Any(p => string.Equals(p.Name, property.Name, StringComparison.OrdinalIgnoreCase))) continue;
            property.SetValue(instance, Value(property.PropertyType, _nullability.Create(property).WriteState == NullabilityState.Nullable));
        }
        return instance;
    }

    private IList Items(Type element)
    {
        var items = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
        for (var i = _random.Next(4); i > 0; i--) items.Add(Value(element, nullable: false));
        return items;
    }

    private object Fill(object builder, Type valueType, bool immutable)
    {
        var dictionary = (IDictionary)builder;
        for (var i = _random.Next(4); i > 0; i--)
        {
            var key = Text();
            if (!dictionary.Contains(key)) dictionary.Add(key, Value(valueType, nullable: false));
        }
        return immutable ? builder.GetType().GetMethod("ToImmutable")!.Invoke(builder, [])! : builder;
    }

    private string Text() => _random.Next(7) switch
    {
        0 => "",
        1 => "café-€-日本-\U0001F6D2",
        2 => new string('x', 600), // past the decoder's stack buffer for shared strings
        3 => Pick("web", "email", "EUR", "Europe/Berlin", "sku-1"),
        _ => "id-" + _random.Next(1000),
    };

    /// <summary>All 96 bits, any sign and scale; with the high 32 bits set the scale is at least 10, so a cart's
    /// total (price times an int quantity, summed over lines) stays inside the decimal range.</summary>
    private decimal Decimal()
    {
        if (_random.Next(5) == 0) return 1.10m; // the scale survives: 1.10, not 1.1
        var high = _random.Next(3) == 0 ? _random.Next() : 0;
        return new decimal(_random.Next(), _random.Next(2) == 0 ? 0 : _random.Next(), high, _random.Next(2) == 0,
            (byte)(high == 0 ? _random.Next(29) : _random.Next(10, 29)));
    }

    private DateTimeOffset Time()
    {
        switch (_random.Next(6))
        {
            case 0: return DateTimeOffset.MinValue;
            case 1: return DateTimeOffset.MaxValue;
        }
        var offset = TimeSpan.FromMinutes(_random.Next(-14 * 60, 14 * 60 + 1));
        var margin = TimeSpan.FromHours(15).Ticks;
        return new DateTimeOffset(margin + _random.NextInt64(DateTime.MaxValue.Ticks - 2 * margin), offset);
    }

    private T Pick<T>(params T[] values) => values[_random.Next(values.Length)];
}

/// <summary>Deep structural equality that is stricter than the records' own: times with their offsets, decimals with their
/// scale, doubles by their bits, default versus empty arrays, and the key comparers of dictionaries.</summary>
internal static class DeepEqual
{
    public static void Assert(object? expected, object? actual, string path = "checkpoint")
    {
        if (expected is null || actual is null)
        {
            if (expected is not null || actual is not null) Fail(path, expected, actual);
            return;
        }
        var type = expected.GetType();
        if (type != actual.GetType()) Fail(path, type, actual.GetType());
        switch (expected)
        {
            case string s:
                if (!string.Equals(s, (string)actual, StringComparison.Ordinal)) Fail(path, s, actual);
                return;
            case double d:
                if (BitConverter.DoubleToInt64Bits(d) != BitConverter.DoubleToInt64Bits((double)actual)) Fail(path, d, actual);
                return;
            case decimal m:
                if (!decimal.GetBits(m).SequenceEqual(decimal.GetBits((decimal)actual))) Fail(path, m, actual);
                return;
            case DateTimeOffset t:
                if (!t.EqualsExact((DateTimeOffset)actual)) Fail(path, t.ToString("O"), ((DateTimeOffset)actual).ToString("O"));
                return;
            case DateTime t:
                if (t.Ticks != ((DateTime)actual).Ticks || t.Kind != ((DateTime)actual).Kind) Fail(path, t.ToString("O"), ((DateTime)actual).ToString("O"));
                return;
        }
        if (type.IsPrimitive || type.IsEnum)
        {
            if (!expected.Equals(actual)) Fail(path, expected, actual);
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ImmutableArray<>))
        {
            var isDefault = type.GetProperty(nameof(ImmutableArray<int>.IsDefault))!;
            var (expectedDefault, actualDefault) = ((bool)isDefault.GetValue(expected)!, (bool)isDefault.GetValue(actual)!);
            if (expectedDefault != actualDefault) Fail(path + ".IsDefault", expectedDefault, actualDefault);
            if (expectedDefault) return;
        }
        if (expected is IDictionary expectedMap)
        {
            var actualMap = (IDictionary)actual;
            var comparer = type.GetProperty("KeyComparer") ?? type.GetProperty("Comparer");
            if (comparer is not null && !Equals(comparer.GetValue(expected), comparer.GetValue(actual)))
                Fail(path + ".comparer", comparer.GetValue(expected), comparer.GetValue(actual));
            if (expectedMap.Count != actualMap.Count) Fail(path + ".Count", expectedMap.Count, actualMap.Count);
            foreach (DictionaryEntry entry in expectedMap)
            {
                if (!actualMap.Contains(entry.Key)) Fail($"{path}[{entry.Key}]", "present", "absent");
                Assert(entry.Value, actualMap[entry.Key], $"{path}[{entry.Key}]");
            }
            // A sorted dictionary enumerates in its comparer's order: the same order as before.
            if (IsSorted(type)) InOrder([.. expectedMap.Keys.Cast<object>()], [.. actualMap.Keys.Cast<object>()], path + ".Keys");
            return;
        }
        if (expected is IEnumerable sequence)
        {
            var (left, right) = (sequence.Cast<object?>().ToList(), ((IEnumerable)actual).Cast<object?>().ToList());
            if (left.Count != right.Count) Fail(path + ".Count", left.Count, right.Count);
            for (var i = 0; i < left.Count; i++) Assert(left[i], right[i], $"{path}[{i}]");
            return;
        }
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.GetMethod is null) continue;
            Assert(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}");
        }
    }

    private static bool IsSorted(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ImmutableSortedDictionary<,>);

    private static void InOrder(List<object> expected, List<object> actual, string path)
    {
        for (var i = 0; i < expected.Count; i++)
            if (!Equals(expected[i], actual[i])) Fail($"{path}[{i}]", expected[i], actual[i]);
    }

    private static void Fail(string path, object? expected, object? actual) =>
        throw new XunitException($"{path}: expected {expected ?? "null"}, got {actual ?? "null"}");
}
