//! Text made of many short pieces (JSON keys, numbers), appended without a
//! call to the C library per piece.
//!
//! A ten-million-row table is 1.8 GB of JSON, some ten pieces a row of 1 to
//! 26 bytes. Appending each with `Vec::extend_from_slice` calls `memmove`
//! for every piece whose length the compiler cannot see. Here a piece of
//! 4 to 32 bytes is copied as two overlapping fixed-size moves, which
//! compile to a few register moves, and one of 1 to 3 bytes as single
//! bytes; a longer one is copied whole. (What `memmove` calls remain in
//! the command's profile are zmij's own, inside its formatting.)

/// Pieces this long or shorter are copied without a call.
const SHORT: usize = 32;

/// A growing text.
#[derive(Default)]
pub(super) struct Text {
    /// Written up to `len`; at least `SHORT` bytes after it (zeros, or
    /// text of an earlier block), so that the place of a short piece is
    /// taken as a `[u8; SHORT]` with one bounds check.
    buf: Vec<u8>,
    len: usize,
}

impl Text {
    /// Empties the text, keeping its memory for the next block of rows.
    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// The text written so far.
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Its length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends again the bytes of `range`, written before.
    pub(super) fn put_again(&mut self, range: std::ops::Range<usize>) {
        debug_assert!(range.end <= self.len, "only text written is repeated");
        let len = range.len();
        self.reserve(len);
        self.buf.copy_within(range, self.len);
        self.len += len;
    }

    /// Makes room for `extra` more bytes and `SHORT` after them; the
    /// buffer doubles, so a text grows in a few steps and is then kept.
    #[inline(always)]
    fn reserve(&mut self, extra: usize) {
        let wanted = self.len + extra + SHORT;
        if self.buf.len() < wanted {
            self.buf.resize(wanted.max(2 * self.buf.len()), 0);
        }
    }

    /// Appends `piece`: without a call when it is at most `SHORT` bytes,
    /// as numbers and keys are; whole otherwise.
    #[inline(always)]
    pub(super) fn put(&mut self, piece: &[u8]) {
        let len = piece.len();
        self.reserve(len);
        let at = self.len;
        if len > SHORT {
            self.buf[at..at + len].copy_from_slice(piece);
            self.len += len;
            return;
        }
        let dst: &mut [u8; SHORT] = (&mut self.buf[at..at + SHORT])
            .try_into()
            .expect("reserve keeps SHORT bytes free");
        // Two moves of a fixed size, one from the front and one ending at
        // the back, overlapping in the middle: every length in the class
        // is covered, and no byte past the piece is read.
        if len >= 16 {
            copy_pair::<16>(dst, piece);
        } else if len >= 8 {
            copy_pair::<8>(dst, piece);
        } else if len >= 4 {
            copy_pair::<4>(dst, piece);
        } else if len > 0 {
            dst[0] = piece[0];
            dst[len / 2] = piece[len / 2];
            dst[len - 1] = piece[len - 1];
        }
        self.len += len;
    }
}

/// Copies `piece` (`W ≤ piece.len() ≤ 2W`) into the front of `dst` as its
/// first and its last `W` bytes.
#[inline(always)]
fn copy_pair<const W: usize>(dst: &mut [u8; SHORT], piece: &[u8]) {
    let len = piece.len();
    let head: [u8; W] = piece[..W].try_into().expect("W bytes");
    let tail: [u8; W] = piece[len - W..].try_into().expect("W bytes");
    dst[..W].copy_from_slice(&head);
    dst[len - W..len].copy_from_slice(&tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_of_every_length_follow_one_another() {
        let mut text = Text::default();
        let mut expected = Vec::new();
        for round in 0..3 {
            text.clear();
            expected.clear();
            for len in (0..=40).chain((0..=40).rev()).chain([1000, 3, 33, 0, 32]) {
                let piece: Vec<u8> = (0..len)
                    .map(|i| b'a' + ((i + len + round) % 26) as u8)
                    .collect();
                text.put(&piece);
                expected.extend_from_slice(&piece);
            }
            assert_eq!(text.as_bytes(), expected.as_slice());
        }
    }

    #[test]
    fn text_written_before_is_repeated() {
        let mut text = Text::default();
        let mut expected = Vec::new();
        text.put(b"{\"surv\":0.5,\"lower\":0.25}");
        expected.extend_from_slice(b"{\"surv\":0.5,\"lower\":0.25}");
        // Repeated until the buffer has grown several times.
        for i in 0..5_000 {
            let range = 1..12 + i % 15;
            expected.extend_from_within(range.clone());
            text.put_again(range);
            text.put(b",");
            expected.push(b',');
        }
        assert_eq!(text.as_bytes(), expected.as_slice());
    }

    #[test]
    fn a_text_grows_past_its_first_rows() {
        let mut text = Text::default();
        let mut expected = Vec::new();
        for i in 0..10_000u32 {
            let piece = format!("{{\"row\":{i}}},");
            text.put(piece.as_bytes());
            expected.extend_from_slice(piece.as_bytes());
        }
        assert_eq!(text.as_bytes(), expected.as_slice());
    }
}
