//! How the worker side waits out Redis failures: the fetcher's pause between failed rounds, and
//! the retries of an outcome whose connection was lost. Both run on tokio's clock, so their
//! tests run on paused time.

use std::time::Duration;

use tokio::time::Instant;

/// The pause after `failures` fetch rounds failed in a row: 200 ms, doubling, at most 5 s.
pub(crate) fn fetch_backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(6))).min(Duration::from_secs(5))
}

/// The waits between tries of an operation that lost its connection: 50 ms, doubling up to
/// 2 s, for as long as the next try still starts before a deadline.
#[derive(Debug)]
pub(crate) struct ConnectionRetry {
    deadline: Instant,
    next: Duration,
}

impl ConnectionRetry {
    /// Retries that must start within `within` from now.
    pub(crate) fn within(within: Duration) -> Self {
        Self {
            deadline: Instant::now() + within,
            next: Duration::from_millis(50),
        }
    }

    /// Whether another try, after the next wait, still starts before the deadline.
    pub(crate) fn has_time(&self) -> bool {
        Instant::now() + self.next < self.deadline
    }

    /// Waits before the next try.
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fetch_backoff_doubles_up_to_five_seconds() {
        let waits: Vec<Duration> = (1..=8).map(fetch_backoff).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000, 5000, 5000].map(ms));
        assert_eq!(fetch_backoff(u32::MAX), ms(5000));
    }

    #[tokio::test(start_paused = true)]
    async fn connection_retries_double_until_the_deadline() {
        let start = Instant::now();
        let mut retry = ConnectionRetry::within(Duration::from_secs(2));
        let mut waits = Vec::new();
        while retry.has_time() {
            let before = Instant::now();
            retry.wait().await;
            waits.push(before.elapsed());
        }
        // The sixth wait (1.6 s) would end after the deadline, 1.55 s in.
        assert_eq!(waits, [50, 100, 200, 400, 800].map(ms));
        assert_eq!(start.elapsed(), ms(1550));
    }

    #[tokio::test(start_paused = true)]
    async fn connection_retries_wait_at_most_two_seconds() {
        let mut retry = ConnectionRetry::within(Duration::from_secs(60));
        let mut last = Duration::ZERO;
        while retry.has_time() {
            let before = Instant::now();
            retry.wait().await;
            last = before.elapsed();
        }
        assert_eq!(last, ms(2000));
    }
}
