//! Memory of runs side by side (`--jobs N`): each run's own check only sees itself, so the
//! study starts a run only when its estimate and the estimates of the runs still going fit
//! the memory available together. A run that does not fit even alone starts once nothing else
//! runs, and its own check refuses it as it would outside a study.
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

/// What one run is estimated to need (from [`crate::experiment::Experiment::memory_need`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryNeed {
    /// Estimated peak bytes of the run.
    pub bytes: f64,
    /// Bytes it may use: its config's own limit, else the memory available when the study
    /// was planned (before any of its runs started).
    pub budget: f64,
}

/// The runs still to start, in order, and the estimated bytes of those running; workers take
/// the next run with [`Pool::take`] and hand its bytes back with [`Pool::release`].
pub struct Pool<J> {
    state: Mutex<State<J>>,
    changed: Condvar,
}

struct State<J> {
    queue: VecDeque<J>,
    running: usize,
    running_bytes: f64,
}

/// A run that waits: its need and the estimated bytes of the runs going now.
pub struct Wait<'a, J> {
    pub job: &'a J,
    pub need: MemoryNeed,
    pub running_bytes: f64,
}

impl<J> Pool<J> {
    pub fn new(queue: VecDeque<J>) -> Pool<J> {
        Pool {
            state: Mutex::new(State {
                queue,
                running: 0,
                running_bytes: 0.0,
            }),
            changed: Condvar::new(),
        }
    }

    /// The next run (first in, first out) once it fits beside the running ones, with the bytes
    /// reserved for it; `None` when no run is left or `stop()` says so. `on_wait` is told
    /// once about each run that has to wait.
    pub fn take(
        &self,
        need: impl Fn(&J) -> Option<MemoryNeed>,
        stop: impl Fn() -> bool,
        mut on_wait: impl FnMut(Wait<J>),
    ) -> Option<(J, f64)> {
        let mut state = self.state.lock().ok()?;
        let mut told = false;
        loop {
            if stop() {
                return None;
            }
            let job = state.queue.front()?;
            let need = need(job);
            let bytes = need.map_or(0.0, |n| n.bytes);
            let fits = state.running == 0
                || need.is_none_or(|n| state.running_bytes + n.bytes <= n.budget);
            if fits {
                let job = state.queue.pop_front()?;
                state.running += 1;
                state.running_bytes += bytes;
                return Some((job, bytes));
            }
            if let (Some(need), false) = (need, told) {
                told = true;
                let running_bytes = state.running_bytes;
                on_wait(Wait {
                    job,
                    need,
                    running_bytes,
                });
            }
            state = self.changed.wait(state).ok()?;
        }
    }

    /// A run that [`Pool::take`] gave out ended: its reserved bytes are free again.
    pub fn release(&self, bytes: f64) {
        if let Ok(mut state) = self.state.lock() {
            state.running -= 1;
            state.running_bytes = if state.running == 0 {
                0.0 // no rounding residue once nothing runs
            } else {
                state.running_bytes - bytes
            };
        }
        self.changed.notify_all();
    }

    /// Wake every waiting worker (to see a stop).
    pub fn wake(&self) {
        self.changed.notify_all();
    }
}

/// Human-readable bytes (decimal units).
pub fn show(bytes: f64) -> String {
    match bytes {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b => format!("{:.0} MB", b / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(bytes: f64) -> Option<MemoryNeed> {
        Some(MemoryNeed {
            bytes,
            budget: 10.0,
        })
    }

    #[test]
    fn runs_start_only_while_their_estimates_fit_together() {
        let pool = Pool::new(VecDeque::from([6.0, 3.0, 5.0, 20.0]));
        let get = |j: &f64| need(*j);
        let no = || false;
        let (a, ra) = pool.take(get, no, |_| panic!("6 fits")).unwrap();
        let (b, rb) = pool.take(get, no, |_| panic!("6 + 3 fit in 10")).unwrap();
        assert_eq!((a, ra, b, rb), (6.0, 6.0, 3.0, 3.0));
        // 5 waits (6 + 3 + 5 > 10) until 6 ends; the waiter says so, then this thread
        // releases 6 (it can take the lock only once the waiter waits).
        let (told, heard) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                pool.take(get, no, |w| {
                    told.send((*w.job, w.running_bytes)).unwrap();
                })
            });
            assert_eq!(heard.recv().unwrap(), (5.0, 9.0));
            pool.release(ra);
            assert_eq!(waiter.join().unwrap(), Some((5.0, 5.0)));
        });
        pool.release(rb);
        pool.release(5.0);
        // 20 does not fit even alone: it starts once nothing else runs.
        let (big, _) = pool.take(get, no, |_| panic!("nothing runs")).unwrap();
        assert_eq!(big, 20.0);
        assert!(pool.take(get, no, |_| {}).is_none(), "queue empty");
    }

    #[test]
    fn unknown_needs_never_wait_and_a_stop_ends_the_queue() {
        let pool = Pool::new(VecDeque::from([1, 2]));
        let (first, bytes) = pool.take(|_| None, || false, |_| {}).unwrap();
        assert_eq!((first, bytes), (1, 0.0));
        assert_eq!(pool.take(|_| None, || false, |_| {}).unwrap().0, 2);
        let pool = Pool::new(VecDeque::from([1]));
        assert!(pool.take(|_| None, || true, |_| {}).is_none());
    }
}
