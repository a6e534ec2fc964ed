//! Busy-polling for upstream answers, one poller per serving thread.
//!
//! A serving thread that waits for its model server's answer sleeps in
//! `epoll_wait`, and its CPU goes idle. The answer then has to wake it: an
//! interrupt to that CPU and, on a virtual machine whose idle CPUs halt, a
//! trip through the hypervisor to start the CPU again. On a small VM that
//! wakeup is tens of microseconds, paid on every request. While a call is in
//! flight, the poller keeps the thread awake instead: it yields at each turn
//! of the runtime, so that the runtime checks for I/O without blocking
//! (`epoll_wait` with a zero timeout) rather than sleeping, and the answer is
//! read as soon as it is in the socket.
//!
//! Polling spends CPU time, so it is bounded:
//! - it runs only while an upstream call of its thread is in flight;
//! - each spell of polling lasts at most the budget (`--busy-poll-us`);
//! - it is skipped while the thread's recent upstream calls took more than
//!   half the budget on average. Polling costs about the model's time in
//!   CPU and saves one wakeup: worth it for a model that answers in tens of
//!   microseconds, not for one that takes milliseconds, whose wakeup is lost
//!   in its own time. Calls that end unanswered (a timeout, a reset, a
//!   client gone) count with the time they took, and a spell that runs out
//!   of budget with calls still in flight counts as a call of the whole
//!   budget: a model that hangs or slows down stops being polled for after a
//!   few calls, and a fast one is polled for again after a few more.
//!
//! The state is per thread (the serving threads share nothing): counters in
//! thread-locals, read and written by the calls and the poller of the same
//! thread. A [`Call`] must end on the thread it started on, as every call
//! of a serving thread's current-thread runtime does. A thread without a
//! poller (budget 0) keeps the counters and nothing else.

use std::cell::{Cell, RefCell};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

thread_local! {
    /// Upstream calls in flight on this thread.
    static IN_FLIGHT: Cell<u32> = const { Cell::new(0) };
    /// Upstream calls started on this thread (wrapping).
    static STARTED: Cell<u64> = const { Cell::new(0) };
    /// Moving average of this thread's upstream call times, in µs.
    static TYPICAL_US: Cell<u64> = const { Cell::new(0) };
    /// The sleeping poller, woken by the next call that starts.
    static POLLER: RefCell<Option<Waker>> = const { RefCell::new(None) };
}

/// Adds one call's time to the thread's moving average (over about 8 calls).
fn count(took: Duration) {
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let typical = TYPICAL_US.get();
    TYPICAL_US.set(typical - typical / 8 + us / 8);
}

/// An upstream call in flight; dropping it ends it.
pub(crate) struct Call {
    start: Instant,
    answered: bool,
}

impl Call {
    /// Starts a call on this thread at `start` and wakes the thread's
    /// poller, if it sleeps.
    pub(crate) fn start(start: Instant) -> Call {
        IN_FLIGHT.set(IN_FLIGHT.get() + 1);
        STARTED.set(STARTED.get().wrapping_add(1));
        if let Some(w) = POLLER.take() {
            w.wake();
        }
        Call {
            start,
            answered: false,
        }
    }

    /// Ends a call answered at `done`.
    pub(crate) fn answered(mut self, done: Instant) {
        count(done.saturating_duration_since(self.start));
        self.answered = true;
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.answered {
            count(self.start.elapsed());
        }
        IN_FLIGHT.set(IN_FLIGHT.get().saturating_sub(1));
    }
}

/// Polls while this thread has upstream calls in flight, for at most
/// `budget` at a time; sleeps otherwise. Runs until its task is dropped.
pub(crate) async fn poller(budget: Duration) {
    let budget_us = u64::try_from(budget.as_micros()).unwrap_or(u64::MAX);
    let mut seen = STARTED.get();
    loop {
        // Sleep until a call starts (at once if one started during the
        // last spell and is still in flight).
        std::future::poll_fn(|cx| {
            if STARTED.get() != seen && IN_FLIGHT.get() > 0 {
                Poll::Ready(())
            } else {
                POLLER.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await;
        seen = STARTED.get();
        if TYPICAL_US.get() > budget_us / 2 {
            continue;
        }
        let until = Instant::now() + budget;
        // Each yield sends the runtime to check for I/O without sleeping,
        // then back here; calls answered in the meantime run first.
        loop {
            if IN_FLIGHT.get() == 0 {
                break;
            }
            if Instant::now() >= until {
                // Out of budget with calls still in flight: a slow answer.
                count(budget);
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// This thread's upstream calls in flight (tests).
#[cfg(test)]
pub(crate) fn in_flight() -> u32 {
    IN_FLIGHT.get()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Turns of the poller task during `f`: a poller that polls keeps being
    /// scheduled; one that sleeps is not.
    fn polled_turns(budget: Duration, f: impl std::future::Future<Output = ()>) -> u64 {
        let turns = Arc::new(AtomicU64::new(0));
        runtime().block_on(async {
            let p = spawn_counted(budget, &turns).await;
            f.await;
            p.abort();
        });
        turns.load(Ordering::Relaxed)
    }

    /// Starts a poller that counts each time it is polled into `turns`,
    /// and lets it run to its first sleep.
    async fn spawn_counted(
        budget: Duration,
        turns: &Arc<AtomicU64>,
    ) -> tokio::task::JoinHandle<()> {
        let p = tokio::spawn(CountPolls {
            inner: Box::pin(poller(budget)),
            n: turns.clone(),
        });
        tokio::task::yield_now().await;
        p
    }

    struct CountPolls<F> {
        inner: std::pin::Pin<Box<F>>,
        n: Arc<AtomicU64>,
    }

    impl<F: std::future::Future> std::future::Future for CountPolls<F> {
        type Output = F::Output;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> Poll<F::Output> {
            self.n.fetch_add(1, Ordering::Relaxed);
            self.inner.as_mut().poll(cx)
        }
    }

    #[test]
    fn polls_while_a_call_is_in_flight_and_sleeps_without_one() {
        // Nothing in flight for 20 ms: the poller sleeps (a turn or two at start).
        let idle = polled_turns(Duration::from_millis(50), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
        });
        assert!(idle <= 2, "polled {idle} times with no call in flight");
        // A call in flight for 20 ms, within the budget: polled all along.
        let busy = polled_turns(Duration::from_millis(50), async {
            let call = Call::start(Instant::now());
            tokio::time::sleep(Duration::from_millis(20)).await;
            call.answered(Instant::now());
        });
        assert!(busy > 100, "polled only {busy} times with a call in flight");
        assert_eq!(in_flight(), 0);
    }

    #[test]
    fn stops_at_the_budget() {
        // 2 ms of budget, a call in flight for 40 ms: polling stops after
        // about 2 ms, so it turns far fewer times than over the whole call.
        let whole = polled_turns(Duration::from_millis(100), async {
            let _call = Call::start(Instant::now());
            tokio::time::sleep(Duration::from_millis(40)).await;
        });
        let bounded = polled_turns(Duration::from_millis(2), async {
            let _call = Call::start(Instant::now());
            tokio::time::sleep(Duration::from_millis(40)).await;
        });
        assert!(
            bounded * 5 < whole,
            "a 2 ms budget polled {bounded} times, the whole 40 ms {whole}"
        );
    }

    #[test]
    fn a_model_that_hangs_stops_being_polled_for() {
        // Calls never answered, each in flight for 5 ms and then dropped (as
        // a timeout or a reset drops it), with a budget of 1 ms.
        let rt = runtime();
        let turns = Arc::new(AtomicU64::new(0));
        let per_call = rt.block_on(async {
            let p = spawn_counted(Duration::from_millis(1), &turns).await;
            let mut per_call = Vec::new();
            for _ in 0..4 {
                let before = turns.load(Ordering::Relaxed);
                let call = Call::start(Instant::now());
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(call);
                per_call.push(turns.load(Ordering::Relaxed) - before);
            }
            p.abort();
            per_call
        });
        // The first is polled for its budget; the spell that ran out and the
        // call's 5 ms put the average over half the budget: no more polling.
        assert!(per_call[0] > 20, "turns per call: {per_call:?}");
        assert!(
            per_call[1..].iter().all(|&n| n <= 2),
            "turns per call: {per_call:?}"
        );
        assert_eq!(in_flight(), 0);
    }

    #[test]
    fn slow_upstream_calls_are_not_polled_for() {
        let turns = polled_turns(Duration::from_micros(200), async {
            // Eight calls of 10 ms each: the average is far over the budget.
            for _ in 0..8 {
                let t = Instant::now();
                Call::start(t).answered(t + Duration::from_millis(10));
            }
            assert!(TYPICAL_US.get() > 100);
            let _call = Call::start(Instant::now());
            tokio::time::sleep(Duration::from_millis(20)).await;
        });
        assert!(turns <= 3, "polled {turns} times for a slow upstream");
        // Fast calls bring the average back under the budget.
        for _ in 0..64 {
            let t = Instant::now();
            Call::start(t).answered(t + Duration::from_micros(30));
        }
        assert!(TYPICAL_US.get() <= 100, "average {}", TYPICAL_US.get());
    }
}
