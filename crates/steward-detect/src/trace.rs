//! Traces: a stream of [`Event`]s as JSON lines, kept to be replayed by tests and the
//! benchmark without privileges (the replay tests write the simulator's traces this way
//! and read them back).

use std::io::{self, BufRead, Write};

use crate::Event;

/// Writes one event as a line.
pub fn write_event(out: &mut impl Write, event: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut *out, event)?;
    out.write_all(b"\n")
}

/// Reads a trace. A line that does not parse is an error naming the line, not skipped: a
/// trace replayed with holes would measure something else.
pub fn read_events(input: impl BufRead) -> io::Result<Vec<Event>> {
    let mut events = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str(&line).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("trace line {}: {e}", n + 1),
            )
        })?;
        events.push(event);
    }
    Ok(events)
}
