//! A stage process's log file with a size cap: the first `keep` bytes go to the file as they come, the last
//! `keep` bytes are held in a ring and written after a marker line saying how many bytes between them were
//! dropped, once the process has ended. Dropped output costs one copy into the ring, never a write.

use std::fs::File;
use std::io::Write;

/// Bytes kept at each end of a stage process's log unless `kfl run --log-keep` says otherwise: a log is at most
/// twice this, plus the marker line.
pub const DEFAULT_KEEP: u64 = 8 * 1024 * 1024;

pub struct CappedLog {
    file: File,
    /// Bytes the head may still take.
    head_left: u64,
    keep: usize,
    /// The newest bytes past the head: `ring[start..]` then `ring[..start]` once it has wrapped.
    ring: Vec<u8>,
    start: usize,
    /// Bytes past the head that fell out of the ring.
    dropped: u64,
    /// Whether the head ends a line, so the marker starts on a line of its own.
    at_line_start: bool,
}

impl CappedLog {
    /// A log appended to `file`, which already holds `existing` bytes (a retried stage's earlier attempts count
    /// against the head).
    pub fn new(file: File, existing: u64, keep: u64) -> CappedLog {
        CappedLog {
            file,
            head_left: keep.saturating_sub(existing),
            keep: usize::try_from(keep).unwrap_or(usize::MAX),
            ring: Vec::new(),
            start: 0,
            dropped: 0,
            at_line_start: true,
        }
    }

    /// Appends output. Write errors are returned, but a caller may ignore them: the log is best effort.
    pub fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        if self.head_left > 0 {
            let n = bytes.len().min(usize::try_from(self.head_left).unwrap_or(usize::MAX));
            let (head, rest) = bytes.split_at(n);
            self.head_left -= n as u64;
            bytes = rest;
            if let Some(&last) = head.last() {
                self.at_line_start = last == b'\n';
            }
            self.file.write_all(head)?;
        }
        self.hold(bytes);
        Ok(())
    }

    /// Keeps the newest `keep` bytes past the head.
    fn hold(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.keep == 0 {
            self.dropped += bytes.len() as u64;
            return;
        }
        if bytes.len() >= self.keep {
            self.dropped += (self.ring.len() + bytes.len() - self.keep) as u64;
            self.ring.clear();
            self.ring.extend_from_slice(&bytes[bytes.len() - self.keep..]);
            self.start = 0;
            return;
        }
        let room = self.keep - self.ring.len();
        let (fill, wrap) = bytes.split_at(bytes.len().min(room));
        self.ring.extend_from_slice(fill);
        // Full: overwrite the oldest bytes in place.
        let mut wrap = wrap;
        while !wrap.is_empty() {
            let n = wrap.len().min(self.keep - self.start);
            self.ring[self.start..self.start + n].copy_from_slice(&wrap[..n]);
            self.start = (self.start + n) % self.keep;
            self.dropped += n as u64;
            wrap = &wrap[n..];
        }
    }

    /// Writes the marker and the held tail; to be called once the process has ended.
    pub fn finish(mut self) -> std::io::Result<()> {
        if self.dropped > 0 {
            let newline = if self.at_line_start { "" } else { "\n" };
            let marker = format!(
                "{newline}[kfl] {} bytes of output dropped here: the log keeps the first and the last {} bytes (kfl run --log-keep)\n",
                self.dropped, self.keep
            );
            self.file.write_all(marker.as_bytes())?;
        }
        let (older, newer) = self.ring.split_at(self.start);
        self.file.write_all(newer)?;
        self.file.write_all(older)?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(keep: u64, existing: &[u8], chunks: &[&[u8]]) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, existing).expect("write");
        let file = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        let mut log = CappedLog::new(file, existing.len() as u64, keep);
        for chunk in chunks {
            log.write(chunk).expect("write");
        }
        log.finish().expect("finish");
        std::fs::read(&path).expect("read")
    }

    #[test]
    fn output_within_the_cap_is_kept_whole() {
        assert_eq!(written(8, b"", &[b"abc", b"defgh", b"ij"]), b"abcdefghij");
    }

    #[test]
    fn the_middle_is_dropped_and_counted_whatever_the_chunking() {
        let text: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let whole = written(10, b"", &[&text]);
        let pieces: Vec<&[u8]> = text.chunks(3).collect();
        assert_eq!(written(10, b"", &pieces), whole);
        let single: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(written(10, b"", &single), whole);
        let expected = [
            &text[..10],
            b"\n[kfl] 80 bytes of output dropped here: the log keeps the first and the last 10 bytes (kfl run --log-keep)\n",
            &text[90..],
        ]
        .concat();
        assert_eq!(whole, expected);
    }

    #[test]
    fn an_earlier_attempt_counts_against_the_head() {
        let log = written(4, b"old\n", &[b"0123456789"]);
        assert_eq!(&log[..4], b"old\n");
        assert!(log.ends_with(b"(kfl run --log-keep)\n6789"), "{}", String::from_utf8_lossy(&log));
        assert!(String::from_utf8_lossy(&log).contains("[kfl] 6 bytes"));
    }
}
