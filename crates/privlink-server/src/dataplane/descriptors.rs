//! File descriptors the data planes hold: every VNet's resolver (a TCP listener and a UDP
//! socket per worker) and proxy, every endpoint and public listener. Thousands of VNets would
//! otherwise take the descriptors the API needs to accept connections, so the planes bind only
//! within a budget: the process's soft `RLIMIT_NOFILE` (raised to the hard limit at start) minus
//! a reserve for everything else. Beyond it a VNet's resolver or proxy reports why it is not
//! listening instead of starving the server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Descriptors kept for the API, the store, the reconciler and open tunnels.
const RESERVE: usize = 1024;

pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

/// Descriptors taken from a budget, returned when dropped.
pub struct Reservation {
    budget: Arc<Budget>,
    count: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.count, Ordering::Relaxed);
    }
}

impl Budget {
    /// A budget of `limit` descriptors.
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, used: AtomicUsize::new(0) })
    }

    /// The budget this process can afford, after raising its soft limit as far as allowed (or
    /// `configured`, when smaller).
    pub fn for_this_process(configured: Option<usize>) -> Arc<Budget> {
        let affordable = raise_nofile_limit().saturating_sub(RESERVE);
        Budget::new(configured.map_or(affordable, |c| c.min(affordable)))
    }

    /// Take `count` descriptors, or say why not.
    pub fn take(self: &Arc<Self>, count: usize) -> Result<Reservation, String> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if used + count > self.limit {
                return Err(format!(
                    "the data planes' file descriptor budget is spent ({} of {}; raise `ulimit -n`)",
                    used, self.limit
                ));
            }
            match self.used.compare_exchange_weak(used, used + count, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(Reservation { budget: self.clone(), count }),
                Err(now) => used = now,
            }
        }
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force.
fn raise_nofile_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer, which
    // lives on this stack frame for the duration of the calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_come_back_when_dropped() {
        let budget = Budget::new(5);
        let a = budget.take(3).unwrap();
        assert!(budget.take(3).is_err());
        let b = budget.take(2).unwrap();
        assert_eq!(budget.used(), 5);
        drop(a);
        assert_eq!(budget.used(), 2);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
    #[test]
    fn the_soft_descriptor_limit_is_raised_to_the_hard_one() {
        let soft = raise_nofile_limit();
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes only the struct passed by pointer, alive for the call.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert_eq!(limit.rlim_cur, limit.rlim_max, "soft limit left below the hard one");
        assert_eq!(soft, usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX));
    }
}
