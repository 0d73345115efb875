//! How big each measurement is. `make bench` runs the published sizes; two environment
//! variables shrink a run for quick iteration (the report says when they were set):
//!
//! * `MAILROOM_BENCH_SCALE=N` divides every job count by `N` (default 1; at least 100 jobs
//!   are kept per measurement);
//! * `MAILROOM_BENCH_ROUNDS=N` sets the rounds (default 3) of the end-to-end comparison and of
//!   the rows read as ratios (`send_many` and its floor, the no-op drains and the stream floor,
//!   the HTTP API and its `send_many`); each reports its median round.

/// Jobs per end-to-end run, as in the published comparison.
const E2E_JOBS: usize = 20_000;
/// Rounds of the end-to-end comparison and of the rows read as ratios; each reports its median
/// round.
const ROUNDS: usize = 3;
/// The backlogs the no-op handler drains.
const BACKLOGS: [usize; 3] = [1_000, 100_000, 1_000_000];
/// The backlog the stream floor and the `mailroom run` process (null transport) drain.
const PROCESS_JOBS: usize = 100_000;
/// Jobs sent one at a time (one caller, then 16 sharing a client).
const SINGLE: usize = 10_000;
/// Jobs sent in batches (`send_many` and the enqueue floor).
const BATCHED: usize = 200_000;
/// The smallest count a scaled size keeps.
const MIN_JOBS: usize = 100;

/// The sizes of one run.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// The divisor applied to every count (1 for the published sizes).
    pub scale: usize,
    pub e2e_jobs: usize,
    pub rounds: usize,
    pub backlogs: Vec<usize>,
    pub process_jobs: usize,
    pub single: usize,
    pub batched: usize,
}

impl Sizes {
    /// The published sizes, shrunk by `MAILROOM_BENCH_SCALE` and `MAILROOM_BENCH_ROUNDS`.
    pub fn from_env() -> Self {
        let knob = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&v| v > 0)
                .unwrap_or(default)
        };
        let scale = knob("MAILROOM_BENCH_SCALE", 1);
        let scaled = |n: usize| (n / scale).max(MIN_JOBS.min(n));
        let mut backlogs: Vec<usize> = BACKLOGS.iter().map(|&n| scaled(n)).collect();
        backlogs.dedup();
        Self {
            scale,
            e2e_jobs: scaled(E2E_JOBS),
            rounds: knob("MAILROOM_BENCH_ROUNDS", ROUNDS),
            backlogs,
            process_jobs: scaled(PROCESS_JOBS),
            single: scaled(SINGLE),
            batched: scaled(BATCHED),
        }
    }

    /// Whether these are the published sizes.
    pub fn published(&self) -> bool {
        self.scale == 1 && self.rounds == ROUNDS
    }
}
