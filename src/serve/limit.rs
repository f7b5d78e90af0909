//! How many new connections each source address may open per window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sliding window per source address. Refusals happen before a byte of SSH is spoken.
pub struct RateLimiter {
    per_window: usize,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            per_window: usize::try_from(per_window).unwrap_or(usize::MAX),
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a connection from `source` now; false when it is one too many.
    pub fn allow(&self, source: IpAddr) -> bool {
        self.allow_at(source, Instant::now())
    }

    fn allow_at(&self, source: IpAddr, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Forget addresses with nothing in the window, so the map does not grow without end.
        seen.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) < self.window)
        });
        let times = seen.entry(source).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.per_window {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_has_its_own_window() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t = Instant::now();
        assert!(limiter.allow_at(a, t));
        assert!(limiter.allow_at(a, t + Duration::from_secs(1)));
        assert!(!limiter.allow_at(a, t + Duration::from_secs(2)));
        assert!(limiter.allow_at(b, t + Duration::from_secs(2)));
        // The first attempt leaves the window after a minute.
        let later = t + Duration::from_millis(60_500);
        assert!(limiter.allow_at(a, later));
        assert!(!limiter.allow_at(a, later));
    }
}
