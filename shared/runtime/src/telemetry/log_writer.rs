//! The text log's writer: one event is one line, whatever its values hold. A value with a line
//! break (an integration's display name, a user name from SCIM) would otherwise write a forged
//! line of its own; every control character but the event's closing line break is escaped.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Makes [`EscapingWriter`]s over stderr.
#[derive(Debug, Clone, Copy)]
pub struct EscapingStderr {
    /// Colours are escape sequences: kept when stderr is a terminal and colours are on.
    pub keep_ansi: bool,
}

impl<'a> MakeWriter<'a> for EscapingStderr {
    type Writer = EscapingWriter<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter {
            inner: io::stderr(),
            keep_ansi: self.keep_ansi,
        }
    }
}

pub struct EscapingWriter<W> {
    pub(crate) inner: W,
    pub(crate) keep_ansi: bool,
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(buf);
        let (body, line_end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let mut line = String::with_capacity(body.len() + 1);
        for c in body.chars() {
            if c.is_control() && !(self.keep_ansi && c == '\u{1b}') {
                line.extend(c.escape_default());
            } else {
                line.push(c);
            }
        }
        line.push_str(line_end);
        self.inner.write_all(line.as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_with_a_line_break_stays_on_its_line() {
        let mut out = EscapingWriter {
            inner: Vec::new(),
            keep_ansi: false,
        };
        out.write_all(b"INFO integration created name=prod\nERROR forged admin login\r\n\0\n")
            .unwrap();
        let written = String::from_utf8(out.inner).unwrap();
        assert_eq!(written.lines().count(), 1, "{written}");
        assert!(written.ends_with("\\u{0}\n"), "{written}");
        assert!(written.contains("prod\\nERROR forged admin login\\r\\n"));
    }

    #[test]
    fn a_real_event_through_the_subscriber_is_one_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = {
            let sink = sink.clone();
            move || EscapingWriter {
                inner: sink.clone(),
                keep_ansi: false,
            }
        };
        let subscriber = tracing_subscriber::fmt().with_writer(writer).with_ansi(false).finish();
        tracing::subscriber::with_default(subscriber, || {
            let name = "prod\n2026-01-01T00:00:00Z  INFO latch: user admin granted";
            tracing::info!(integration = %name, "integration created");
        });
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 1, "{written}");
    }
}
