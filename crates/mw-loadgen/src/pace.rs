//! Waiting until a request is due, to the microsecond.
//!
//! tokio's timer ticks in milliseconds, so at 5k req/s the five requests due
//! within one millisecond would be woken and written together, a burst every
//! millisecond rather than one request every 200 µs. [`Pacer`] arms a Linux
//! `timerfd` at the due time (absolute, `CLOCK_MONOTONIC`, the clock behind
//! `Instant`) and waits for it through the runtime's own epoll, so the
//! generator still runs on one thread and wakes when the request is due.
//! `timerfd` timers take no timer slack, unlike `nanosleep` or an epoll
//! timeout. Elsewhere, and with `--timer coarse`, it falls back to tokio's
//! timer.

use std::io;

use clap::ValueEnum;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Timer {
    /// A timerfd per connection: each request written when it is due
    Exact,
    /// tokio's millisecond timer: requests due in the same millisecond go
    /// together
    Coarse,
}

impl Timer {
    pub fn name(self) -> &'static str {
        match self {
            Timer::Exact => "exact",
            Timer::Coarse => "coarse",
        }
    }
}

pub struct Pacer {
    #[cfg(target_os = "linux")]
    fd: Option<linux::TimerFd>,
}

impl Pacer {
    pub fn new(timer: Timer) -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            let fd = match timer {
                Timer::Exact => Some(linux::TimerFd::new()?),
                Timer::Coarse => None,
            };
            Ok(Self { fd })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = timer;
            Ok(Self {})
        }
    }

    /// Returns at `due` or as soon after it as the thread is scheduled;
    /// at once when `due` has passed.
    pub async fn sleep_until(&self, due: Instant) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            return fd.sleep_until(due).await;
        }
        tokio::time::sleep_until(due).await;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::OwnedFd;

    use rustix::time::{
        clock_gettime, timerfd_create, timerfd_settime, ClockId, Itimerspec, TimerfdClockId,
        TimerfdFlags, TimerfdTimerFlags, Timespec,
    };
    use tokio::io::unix::AsyncFd;
    use tokio::time::Instant;

    pub struct TimerFd {
        fd: AsyncFd<OwnedFd>,
    }

    impl TimerFd {
        pub fn new() -> io::Result<Self> {
            let owned = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            // `AsyncFd::new` is deprecated because a `T` whose `AsRawFd`
            // can change or that does not own its descriptor is unsound to
            // register. An `OwnedFd` owns its descriptor for its whole life
            // and is deregistered before it is closed.
            #[allow(deprecated)]
            let fd = AsyncFd::new(owned)?;
            Ok(Self { fd })
        }

        pub async fn sleep_until(&self, due: Instant) -> io::Result<()> {
            let now = Instant::now();
            if due <= now {
                return Ok(());
            }
            // `Instant` reads CLOCK_MONOTONIC on Linux, so the due time on
            // that clock is now's reading plus the time left.
            let mono = clock_gettime(ClockId::Monotonic);
            let at =
                mono.tv_sec as u128 * 1_000_000_000 + mono.tv_nsec as u128 + (due - now).as_nanos();
            let spec = Itimerspec {
                it_interval: Timespec::default(),
                it_value: Timespec {
                    tv_sec: (at / 1_000_000_000) as _,
                    tv_nsec: (at % 1_000_000_000) as _,
                },
            };
            timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::ABSTIME, &spec)?;
            loop {
                let mut guard = self.fd.readable().await?;
                let mut expirations = [0u8; 8];
                match guard.try_io(|inner| Ok(rustix::io::read(inner.get_ref(), &mut expirations)?))
                {
                    Ok(res) => return res.map(|_| ()),
                    // Readiness left over from the previous expiry: wait.
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Requests due every 200 µs (5k req/s) wake one by one with exact
    /// pacing, never before they are due. With tokio's millisecond timer
    /// about four in five find their due time already past when the one
    /// before them wakes, and go in a burst with it.
    async fn share_woken_in_bursts(timer: Timer) -> f64 {
        let p = Pacer::new(timer).unwrap();
        let start = Instant::now() + Duration::from_millis(1);
        let n = 100;
        let mut burst = 0;
        let mut last: Option<Instant> = None;
        for i in 0..n {
            let due = start + Duration::from_micros(200 * i);
            p.sleep_until(due).await.unwrap();
            let now = Instant::now();
            assert!(now >= due, "woke {:?} early", due - now);
            if last.is_some_and(|l| now - l < Duration::from_micros(50)) {
                burst += 1;
            }
            last = Some(now);
        }
        burst as f64 / n as f64
    }

    #[tokio::test(flavor = "current_thread")]
    async fn exact_pacing_sends_no_bursts_where_the_coarse_timer_does() {
        let exact = share_woken_in_bursts(Timer::Exact).await;
        let coarse = share_woken_in_bursts(Timer::Coarse).await;
        // A loaded machine can delay a wake past the next due time; half is
        // far above that and far below what millisecond ticks give.
        assert!(exact < 0.5, "exact: {exact} of wakes in bursts");
        assert!(coarse > 0.5, "coarse: {coarse} of wakes in bursts");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_past_due_time_returns_at_once_and_the_timer_is_reusable() {
        for timer in [Timer::Exact, Timer::Coarse] {
            let p = Pacer::new(timer).unwrap();
            let t0 = Instant::now();
            p.sleep_until(t0 - Duration::from_millis(5)).await.unwrap();
            assert!(t0.elapsed() < Duration::from_millis(5));
            let due = Instant::now() + Duration::from_millis(2);
            p.sleep_until(due).await.unwrap();
            assert!(Instant::now() >= due);
        }
    }
}
