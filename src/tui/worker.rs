//! Slow work off the UI thread, and the one inbox the UI loop sleeps on.
//!
//! Everything that can wake the explorer is a [`Message`] on one channel, each send followed by a wake of the
//! loop's `mio` poll (one [`Waker`]): keys from the input thread, outcomes of jobs, reports and the end of the
//! load. The loop sleeps until one comes; nothing polls on a timer.
//!
//! Jobs (`effects.rs`: viewer reads, extraction) run on a thread per [`Lane`], so an extraction never delays
//! the viewer. A new job cancels the unfinished one of its lane: its flag is set, so its read stops at the next
//! chunk (see `LoadedImage::copy_entry_cancellable`), and the lane goes straight to the newest request. An
//! outcome of a cancelled job is not sent, and `App::update` ignores any whose id it no longer waits for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crossterm::event::Event;
use mio::Waker;

use super::app::Action;
use super::effects::{self, Job, JobId, Lane};
use super::loading::{LoadReport, Loaded, Partial};
use crate::Result;
use crate::source::LoadedImage;

/// Something for the UI loop.
pub enum Message {
    Input(std::io::Result<Event>),
    /// A job's outcome, as an action for `App::update`.
    Done(Action),
    Loading(LoadReport),
    /// The lower layers are explorable: the model so far (`partial.rs`).
    Partial(Arc<Partial>),
    Loaded(Box<Result<Loaded>>),
}

/// The sending side of the UI loop's inbox: every send wakes the loop.
#[derive(Clone)]
pub struct Outbox {
    send: Sender<Message>,
    waker: Arc<Waker>,
}

impl Outbox {
    /// Sends and wakes the loop; false once the loop is gone.
    pub fn send(&self, message: Message) -> bool {
        self.send.send(message).is_ok() && self.waker.wake().is_ok()
    }
}

/// An inbox whose every message wakes the poll `waker` belongs to.
pub fn inbox(waker: Waker) -> (Outbox, Receiver<Message>) {
    let (send, receive) = mpsc::channel();
    let outbox = Outbox {
        send,
        waker: Arc::new(waker),
    };
    (outbox, receive)
}

struct Queued {
    id: JobId,
    job: Job,
    cancel: Arc<AtomicBool>,
}

/// One lane: its thread's queue, the job it runs last, and a channel that closes when the thread ends.
struct LaneHandle {
    jobs: Sender<Queued>,
    current: Option<(JobId, Arc<AtomicBool>)>,
    ended: Receiver<()>,
}

/// Runs jobs on the image, one lane per kind, and sends their outcomes to the inbox.
pub struct Worker {
    viewer: LaneHandle,
    extract: LaneHandle,
}

impl Worker {
    pub fn new(loaded: Arc<LoadedImage>, outbox: Outbox) -> Result<Worker> {
        Ok(Worker {
            viewer: spawn("viewer reads", loaded.clone(), outbox.clone())?,
            extract: spawn("extraction", loaded, outbox)?,
        })
    }

    fn lane(&mut self, lane: Lane) -> &mut LaneHandle {
        match lane {
            Lane::Viewer => &mut self.viewer,
            Lane::Extract => &mut self.extract,
        }
    }

    /// Starts `job`, cancelling the unfinished job of its lane.
    pub fn start(&mut self, id: JobId, job: Job) {
        let lane = self.lane(job.lane());
        if let Some((_, cancel)) = lane.current.take() {
            cancel.store(true, Ordering::Relaxed);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        lane.current = Some((id, cancel.clone()));
        // A lane whose thread is gone cannot answer; the request is dropped like a cancelled one.
        let _ = lane.jobs.send(Queued { id, job, cancel });
    }

    /// Cancels job `id`, if it is still the newest of its lane.
    pub fn cancel(&mut self, id: JobId) {
        for lane in [&mut self.viewer, &mut self.extract] {
            if let Some((_, cancel)) = lane.current.as_ref().filter(|(job, _)| *job == id) {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Cancels every job and waits at most `grace` for the lanes to stop, so that an interrupted extraction
    /// removes its partial file before the process ends.
    pub fn shutdown(self, grace: Duration) {
        let deadline = Instant::now() + grace;
        for lane in [self.viewer, self.extract] {
            if let Some((_, cancel)) = &lane.current {
                cancel.store(true, Ordering::Relaxed);
            }
            drop(lane.jobs);
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = lane.ended.recv_timeout(left);
        }
    }
}

fn spawn(name: &str, loaded: Arc<LoadedImage>, outbox: Outbox) -> Result<LaneHandle> {
    let (jobs, queue) = mpsc::channel::<Queued>();
    let (ended_guard, ended) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ended = ended_guard;
            run_lane(&loaded, &queue, &outbox);
        })
        .map_err(|e| crate::Error::io(name, e))?;
    Ok(LaneHandle {
        jobs,
        current: None,
        ended,
    })
}

fn run_lane(loaded: &LoadedImage, queue: &Receiver<Queued>, outbox: &Outbox) {
    while let Ok(mut next) = queue.recv() {
        // Requests queued behind the one that ran are cancelled already but the newest.
        while let Ok(newer) = queue.try_recv() {
            next = newer;
        }
        if next.cancel.load(Ordering::Relaxed) {
            continue;
        }
        let outcome = effects::perform(loaded, &next.job, &next.cancel);
        if next.cancel.load(Ordering::Relaxed) {
            continue;
        }
        let done = Action::Done {
            id: next.id,
            outcome,
        };
        if !outbox.send(Message::Done(done)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Reopen;
    use crate::tui::effects::Outcome;
    use mio::{Events, Poll, Token};
    use std::io::Read;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU64;

    const WAKE: Token = Token(7);

    /// The bytes each re-read of the layer has read, in the order they started.
    type Reads = Arc<Mutex<Vec<Arc<AtomicU64>>>>;

    struct Fixture {
        poll: Poll,
        outbox: Outbox,
        inbox: Receiver<Message>,
        worker: Worker,
        reads: Reads,
        /// The entry after the 8 MiB one.
        file: u32,
    }

    impl Fixture {
        /// Waits until the first re-read has read `bytes`.
        fn read_at_least(&self, bytes: u64) {
            let first = || self.reads.lock().unwrap().first().cloned();
            while first().is_none_or(|r| r.load(Ordering::Relaxed) < bytes) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }

        /// Sleeps in the poll as the UI loop does until job outcomes come, and returns them.
        fn outcomes(&mut self) -> Vec<(JobId, Outcome)> {
            loop {
                let done = done(&wait(&mut self.poll, &self.inbox));
                if !done.is_empty() {
                    return done;
                }
            }
        }
    }

    /// A layer read 64 KiB at a time, 2 ms a chunk: 8 MiB of `pad` (over a quarter of a second) before `file`.
    fn slow_layer() -> (Vec<u8>, Reads) {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("pad", vec![b'x'; 8 << 20]), ("file", b"hello\n".to_vec())] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        (b.into_inner().unwrap(), Arc::default())
    }

    struct Slow {
        blob: Arc<[u8]>,
        at: usize,
        read: Arc<AtomicU64>,
    }

    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(2));
            let end = (self.at + (64 << 10))
                .min(self.blob.len())
                .min(self.at + buf.len());
            let n = end - self.at;
            buf[..n].copy_from_slice(&self.blob[self.at..end]);
            self.at = end;
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }

    /// An image of one layer (`pad`, then `file`) re-read slowly; each re-read's byte count is kept in order.
    fn slow_image() -> (Arc<LoadedImage>, Reads, u32) {
        let (blob, reads) = slow_layer();
        let scan = crate::layer::scan_blob(&blob[..], Default::default()).unwrap();
        let file = scan
            .entries
            .iter()
            .position(|e| &*e.path == b"file")
            .unwrap() as u32;
        let mut image = crate::tui::fixture::image();
        image.layers.truncate(1);
        image.layers[0].scan = Arc::new(scan);
        let blob: Arc<[u8]> = blob.into();
        let counters = reads.clone();
        let reopen = Reopen(Box::new(move || {
            let read = Arc::new(AtomicU64::new(0));
            counters.lock().unwrap().push(read.clone());
            Box::new(Slow {
                blob: blob.clone(),
                at: 0,
                read,
            })
        }));
        (Arc::new(reopen.loaded(image)), reads, file)
    }

    fn setup() -> Fixture {
        let poll = Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), WAKE).unwrap();
        let (outbox, inbox) = inbox(waker);
        let (loaded, reads, file) = slow_image();
        let worker = Worker::new(loaded, outbox.clone()).unwrap();
        Fixture {
            poll,
            outbox,
            inbox,
            worker,
            reads,
            file,
        }
    }

    /// Sleeps in the poll as the UI loop does, then takes what came.
    fn wait(poll: &mut Poll, inbox: &Receiver<Message>) -> Vec<Message> {
        let mut events = Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(20)))
            .unwrap();
        assert!(!events.is_empty(), "nothing woke the loop");
        inbox.try_iter().collect()
    }

    fn done(messages: &[Message]) -> Vec<(JobId, Outcome)> {
        messages
            .iter()
            .filter_map(|m| match m {
                Message::Done(Action::Done { id, outcome }) => Some((*id, outcome.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_loop_gets_other_events_while_a_read_runs_then_its_outcome() {
        let mut f = setup();
        f.worker.start(
            1,
            Job::ReadFile {
                layer: 0,
                entry: f.file,
            },
        );
        f.read_at_least(64 << 10);
        // A key, as the input thread sends it, while the read is under way.
        let key = crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Down);
        let sender = f.outbox.clone();
        std::thread::spawn(move || sender.send(Message::Input(Ok(Event::Key(key)))));
        let first = wait(&mut f.poll, &f.inbox);
        assert!(matches!(
            first.as_slice(),
            [Message::Input(Ok(Event::Key(_)))]
        ));
        let read = f.reads.lock().unwrap()[0].load(Ordering::Relaxed);
        assert!(read < 8 << 20, "the read was over before the key came");
        let hello = Outcome::FileRead(Ok(b"hello\n".to_vec()));
        assert_eq!(f.outcomes(), vec![(1, hello)]);
    }

    #[test]
    fn a_second_request_cancels_the_first_and_its_read_stops() {
        let mut f = setup();
        f.worker.start(
            1,
            Job::ReadFile {
                layer: 0,
                entry: f.file,
            },
        );
        f.read_at_least(256 << 10);
        f.worker.start(
            2,
            Job::ReadFile {
                layer: 0,
                entry: f.file,
            },
        );
        let hello = Outcome::FileRead(Ok(b"hello\n".to_vec()));
        assert_eq!(f.outcomes(), vec![(2, hello)]);
        let reads = f.reads.lock().unwrap();
        assert_eq!(reads.len(), 2);
        let first = reads[0].load(Ordering::Relaxed);
        assert!(first < 4 << 20, "the first read went on to {first} bytes");
        assert!(reads[1].load(Ordering::Relaxed) > 8 << 20);
        // Nothing more comes: the first job's outcome was never sent.
        assert!(f.inbox.try_recv().is_err());
    }

    #[test]
    fn a_replaced_extraction_leaves_no_partial_file() {
        let mut f = setup();
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("first"), dir.path().join("second"));
        let extract = |entry, to: &std::path::Path| Job::Extract {
            layer: 0,
            entry,
            to: to.to_path_buf(),
            overwrite: false,
        };
        // Entry 0 is the 8 MiB one.
        f.worker.start(1, extract(0, &first));
        f.read_at_least(256 << 10);
        f.worker.start(2, extract(f.file, &second));
        let outcomes = f.outcomes();
        assert!(
            matches!(outcomes.as_slice(), [(2, Outcome::Extracted(Ok(_)))]),
            "{outcomes:?}"
        );
        assert_eq!(std::fs::read(&second).unwrap(), b"hello\n");
        assert!(!first.exists(), "the cancelled extraction left its file");
    }

    #[test]
    fn shutdown_stops_a_running_read_at_once() {
        let mut f = setup();
        f.worker.start(
            1,
            Job::ReadFile {
                layer: 0,
                entry: f.file,
            },
        );
        f.read_at_least(1);
        let started = Instant::now();
        f.worker.shutdown(Duration::from_secs(5));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(f.reads.lock().unwrap()[0].load(Ordering::Relaxed) < 8 << 20);
    }
}
