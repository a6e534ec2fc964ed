//! How the proxy's background threads are scheduled.
//!
//! Serving threads forward requests. Everything else the proxy does runs on
//! background threads: encoding and delivering captured records, writing
//! local capture files, publishing metrics. Under [`Priority::Idle`] (the
//! binary's default) each background thread puts itself under Linux's
//! `SCHED_IDLE` policy ([`apply`], called as the thread starts). The kernel
//! then runs it only on CPU time no normal thread wants, and preempts it as
//! soon as one does. On a sidecar's core, a request never waits behind
//! monitoring work.
//!
//! Background work is not starved. Under full contention a `SCHED_IDLE`
//! thread still gets a small share of the core, about 0.3%. That is enough
//! to publish metrics. Captured records that cannot be delivered in time
//! fill the bounded queue; then they are dropped and counted: capture never
//! slows inference.

/// Scheduling of the background threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// `SCHED_IDLE`: CPU time the serving threads leave.
    Idle,
    /// The same as the serving threads.
    Normal,
}

/// Puts the calling thread under `p`. Only lowering is possible without
/// privileges; [`Priority::Normal`] leaves the thread as it is.
pub fn apply(p: Priority) -> Result<(), String> {
    match p {
        Priority::Normal => Ok(()),
        Priority::Idle => idle(),
    }
}

#[cfg(target_os = "linux")]
fn idle() -> Result<(), String> {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    )
    .map_err(|e| format!("setting SCHED_IDLE: {e:?}"))
}

#[cfg(not(target_os = "linux"))]
fn idle() -> Result<(), String> {
    Err("SCHED_IDLE is Linux's; background threads keep their priority".to_string())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The policy field (41) of this thread's `/proc` entry, numbered as
    /// `sched_getscheduler` does: 0 normal, 5 idle.
    fn policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("reading /proc");
        // Fields after the command name (which may hold spaces), from field 3.
        let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
        rest.split(' ')
            .nth(38)
            .and_then(|p| p.parse().ok())
            .expect("a policy field")
    }

    #[test]
    fn idle_lowers_only_the_calling_thread() {
        let before = policy();
        let t = std::thread::spawn(|| {
            assert_eq!(policy(), 0);
            apply(Priority::Idle).unwrap();
            policy()
        });
        assert_eq!(t.join().unwrap(), 5);
        assert_eq!(policy(), before);
        let t = std::thread::spawn(|| {
            apply(Priority::Normal).unwrap();
            policy()
        });
        assert_eq!(t.join().unwrap(), 0);
    }
}
