using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Traffic.Import;

/// <summary>
/// Reads the project's own event contract (docs/events.md), one JSON event per line, as a dump of the input topics
/// gives. Each line goes through <see cref="EventParser"/>, the same validation the worker applies, so its reject
/// reasons (not_json, missing_field, unknown_event_type, ...) name the bad lines. Blank lines are ignored.
/// Events keep their ids and times and are published in file order to the topic their type belongs on.
/// </summary>
public static class NdjsonImporter
{
    public static IEnumerable<GeneratedEvent> Read(TextReader reader, ImportStatistics statistics)
    {
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            statistics.CountLine();
            var parsed = EventParser.Parse(line);
            if (parsed.Event is not { } evt)
            {
                statistics.Reject(lineNumber, parsed.RejectReason!, parsed.Detail ?? "", line);
                continue;
            }
            statistics.CountEvent(evt.EventTime);
            yield return new GeneratedEvent(InputTopics.For(evt), evt);
        }
    }
}
