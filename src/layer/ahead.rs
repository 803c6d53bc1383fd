//! Reading ahead on a thread of its own: one thread fills chunks from a reader (there, the blob's decompression
//! and both sha256 digests) while another parses the tar out of them, so a single big layer keeps two cores
//! busy. Chunks travel through a bounded queue and come back emptied to be refilled: a handful of buffers in
//! all, nothing allocated per chunk once warm.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::feed::fill;

/// Bytes per chunk: large enough that a hand-over costs nothing next to the work on its bytes, small enough
/// that a few chunks in flight stay in the cache.
const CHUNK: usize = 256 * 1024;
/// Full chunks waiting for the parser at most.
const QUEUED: usize = 4;

/// A filled chunk (`.1` bytes of it in use), or the error that ended the reading.
type Filled = io::Result<(Vec<u8>, usize)>;

/// The producing end: owned by the thread that reads ahead.
pub(super) struct Producer {
    full: SyncSender<Filled>,
    empty: Receiver<Vec<u8>>,
}

/// The consuming end: a reader over the chunks, in order.
pub(super) struct Chunks {
    full: Receiver<Filled>,
    empty: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    pos: usize,
    /// The producer's error, once reported: later reads fail too rather than look like the end.
    failed: Option<(io::ErrorKind, String)>,
}

/// A producer and the chunk reader it feeds.
pub(super) fn channel() -> (Producer, Chunks) {
    let (full_tx, full_rx) = sync_channel(QUEUED);
    // Room for every chunk that can exist at once, so handing one back never blocks.
    let (empty_tx, empty_rx) = sync_channel(QUEUED + 2);
    (
        Producer {
            full: full_tx,
            empty: empty_rx,
        },
        Chunks {
            full: full_rx,
            empty: empty_tx,
            current: Vec::new(),
            len: 0,
            pos: 0,
            failed: None,
        },
    )
}

impl Producer {
    /// Reads `source` to its end into chunks for the consumer. `Ok(false)` when the consumer stopped taking them
    /// (it failed, or needs no more); a read error goes to the consumer too.
    pub(super) fn pump(&self, mut source: &mut dyn Read) -> io::Result<bool> {
        loop {
            let mut buf = self.empty.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            let n = match fill(&mut source, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    let _ = self.full.send(Err(e));
                    return Err(copy);
                }
            };
            if n == 0 {
                return Ok(true);
            }
            if self.full.send(Ok((buf, n))).is_err() {
                return Ok(false);
            }
            if n < CHUNK {
                return Ok(true);
            }
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        while self.pos == self.len {
            match self.full.recv() {
                Ok(Ok((next, len))) => {
                    let used = std::mem::replace(&mut self.current, next);
                    (self.len, self.pos) = (len, 0);
                    if !used.is_empty() {
                        let _ = self.empty.try_send(used);
                    }
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                Err(_) => return Ok(0), // the producer is done
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives out its bytes in uneven reads, then fails when asked to.
    struct Uneven {
        data: Vec<u8>,
        at: usize,
        fail_at_end: bool,
    }

    impl Read for Uneven {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() && self.fail_at_end {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "broken"));
            }
            let n = buf.len().min(self.data.len() - self.at).min(7919);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn through(data: &[u8], fail_at_end: bool) -> (io::Result<bool>, io::Result<Vec<u8>>) {
        let (producer, mut chunks) = channel();
        std::thread::scope(|threads| {
            let pumping = threads.spawn(move || {
                let mut source = Uneven {
                    data: data.to_vec(),
                    at: 0,
                    fail_at_end,
                };
                producer.pump(&mut source)
            });
            let mut out = Vec::new();
            let read = chunks.read_to_end(&mut out).map(|_| out);
            (pumping.join().unwrap(), read)
        })
    }

    #[test]
    fn chunks_arrive_whole_and_in_order() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (pumped, read) = through(&data, false);
            assert!(pumped.unwrap());
            assert_eq!(read.unwrap(), data, "{len} bytes");
        }
    }

    #[test]
    fn a_read_error_reaches_the_consumer_and_stays() {
        let data = vec![7u8; 3 * CHUNK + 5];
        let (pumped, read) = through(&data, true);
        assert_eq!(pumped.unwrap_err().to_string(), "broken");
        assert_eq!(read.unwrap_err().to_string(), "broken");
    }

    #[test]
    fn the_producer_stops_when_the_consumer_is_gone() {
        let (producer, chunks) = channel();
        drop(chunks);
        let mut source = Uneven {
            data: vec![1; 10 * CHUNK],
            at: 0,
            fail_at_end: false,
        };
        assert!(!producer.pump(&mut source).unwrap());
        assert!(source.at < 10 * CHUNK);
    }
}
