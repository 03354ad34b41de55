//! Content too large to scan as one text, cut into overlapping pieces read from a stream, so a
//! file of any size is scanned with bounded memory instead of skipped.
//!
//! A piece ends at a line break where it can. The next piece starts [`OVERLAP`] before that
//! end (at a line start), or earlier at the start of the YAML document that was cut (up to
//! [`DOCUMENT_BACK`] back), so a value on a line, a PEM block within a multi-line window and
//! a Kubernetes manifest cut by the end of one piece are seen whole by the next.

use std::io::Read;

use crate::detect::MULTILINE_WINDOW;

/// Bytes of content scanned as one text; larger content is cut into pieces of this size.
pub const MAX_TEXT: usize = 16 * 1024 * 1024;

/// How far the next piece starts before the end of the last one: a multi-line rule's window,
/// and room for the line its keyword sits on.
pub const OVERLAP: usize = MULTILINE_WINDOW + 64 * 1024;

/// How far back a piece may start to take in a whole YAML document.
const DOCUMENT_BACK: usize = 1024 * 1024;

/// Pieces of one stream, in order.
pub struct Pieces<'r> {
    reader: &'r mut dyn Read,
    buffer: Vec<u8>,
    /// The 1-based line of `buffer[0]`.
    first_line: usize,
    /// Where the buffer is cut before the next piece (the overlap is kept).
    keep_from: Option<usize>,
    done: bool,
    piece: usize,
}

/// One piece of the stream.
pub struct Piece<'p> {
    /// The content.
    pub bytes: &'p [u8],
    /// The 1-based line of `bytes[0]` in the whole stream.
    pub first_line: usize,
    /// Whether an earlier piece covered this one's start (its first line was scanned there,
    /// with the line above in view).
    pub continued: bool,
}

impl<'r> Pieces<'r> {
    /// The pieces of `reader`.
    pub fn new(reader: &'r mut dyn Read) -> Self {
        Self {
            reader,
            buffer: Vec::new(),
            first_line: 1,
            keep_from: None,
            done: false,
            piece: 0,
        }
    }

    /// The next piece, or `None` at the end of the stream.
    pub fn next_piece(&mut self) -> std::io::Result<Option<Piece<'_>>> {
        if let Some(keep) = self.keep_from.take() {
            self.first_line += memchr::memchr_iter(b'\n', &self.buffer[..keep]).count();
            self.buffer.drain(..keep);
        }
        if self.done {
            return Ok(None);
        }
        let wanted = MAX_TEXT - self.buffer.len();
        let read = (&mut *self.reader)
            .take(wanted as u64)
            .read_to_end(&mut self.buffer)?;
        let continued = self.piece > 0;
        self.piece += 1;
        if read < wanted {
            // The end of the stream: the rest is the last piece.
            self.done = true;
            return Ok(Some(Piece {
                bytes: &self.buffer,
                first_line: self.first_line,
                continued,
            }));
        }
        let end = self.cut();
        self.keep_from = Some(self.next_start(end));
        Ok(Some(Piece {
            bytes: &self.buffer[..end],
            first_line: self.first_line,
            continued,
        }))
    }

    /// Where a full buffer's piece ends: after its last line break in the second half, or
    /// at the buffer's end when a line is that long.
    fn cut(&self) -> usize {
        let half = self.buffer.len() / 2;
        memchr::memrchr(b'\n', &self.buffer[half..]).map_or(self.buffer.len(), |at| half + at + 1)
    }

    /// Where the piece after one ending at `end` starts.
    fn next_start(&self, end: usize) -> usize {
        let overlap_start = end.saturating_sub(OVERLAP);
        let line_start = memchr::memrchr(b'\n', &self.buffer[..overlap_start])
            .map_or(overlap_start, |at| at + 1);
        // A line longer than the piece's first half: cut inside it.
        let line_start = if line_start + DOCUMENT_BACK < overlap_start {
            overlap_start
        } else {
            line_start
        };
        let back = end.saturating_sub(DOCUMENT_BACK);
        let document = memchr::memmem::rfind(&self.buffer[back..overlap_start], b"\n---")
            .map(|at| back + at + 1);
        // Both lie in the buffer's second half or later, so every piece moves forward.
        document.map_or(line_start, |doc| doc.min(line_start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece's first line number matches the stream, pieces overlap by at least
    /// `OVERLAP` and together they cover everything.
    #[test]
    fn pieces_cover_the_stream_with_overlap_and_true_line_numbers() {
        let mut text = String::new();
        let mut line = 0;
        while text.len() < 2 * MAX_TEXT + 12345 {
            line += 1;
            text.push_str(&format!("line {line} {}\n", "x".repeat(line % 97)));
        }
        let mut reader = text.as_bytes();
        let mut pieces = Pieces::new(&mut reader);
        let (mut previous_start, mut previous_end, mut count) = (0usize, 0usize, 0);
        while let Some(piece) = pieces.next_piece().expect("read") {
            let first = std::str::from_utf8(piece.bytes)
                .expect("utf-8")
                .lines()
                .next()
                .expect("a line");
            assert!(
                first.starts_with(&format!("line {} ", piece.first_line)),
                "{first:.20} at {}",
                piece.first_line
            );
            let start = if count == 0 {
                0
            } else {
                text.find(&format!("\n{first}\n")).expect("found") + 1
            };
            if count > 0 {
                assert!(start > previous_start, "no progress");
                assert!(previous_end >= start + OVERLAP, "overlap too short");
            }
            assert_eq!(piece.continued, count > 0);
            previous_start = start;
            previous_end = start + piece.bytes.len();
            count += 1;
        }
        assert_eq!(previous_end, text.len());
        assert!(count >= 3, "{count} pieces");
    }
}
