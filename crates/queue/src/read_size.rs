//! How many deliveries a worker's next read asks for: [`QueueConfig::batch`], and more while a
//! backlog waits and the handlers take jobs faster than reads of `batch` bring them. Fewer,
//! larger reads cost the worker less per job (with the `null` transport, about a fifth more
//! jobs per second in `make bench`); a worker whose handlers are the slower part keeps reading
//! `batch` at a time, and so holds no more jobs ahead of them than before.

use crate::QueueConfig;

/// How the worker fared since its last read started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Demand {
    /// Its handlers ran out of jobs while a read was on its way.
    pub hungry: bool,
    /// It holds less than a quarter of its byte budget.
    pub roomy: bool,
}

/// How many deliveries to ask for after a read that asked for `asked` and got `read`: after a
/// full read, twice as many when the handlers went hungry meanwhile (up to
/// [`QueueConfig::read_max`]), as many again when they did not; `batch` after a short read,
/// or when the worker is short of room. A backlog that the handlers eat faster than reads of
/// `batch` bring is then read in fewer, larger reads, and a worker whose handlers are the
/// slower part (sends to Gmail) keeps reading `batch` at a time.
pub(crate) fn next_count(read: usize, asked: usize, demand: Demand, cfg: &QueueConfig) -> usize {
    if read < asked || !demand.roomy {
        cfg.batch
    } else if demand.hungry {
        (asked * 2).min(cfg.read_max())
    } else {
        asked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(batch: usize, batch_max: usize) -> QueueConfig {
        QueueConfig {
            batch,
            batch_max,
            ..QueueConfig::default()
        }
    }

    const HUNGRY: Demand = Demand {
        hungry: true,
        roomy: true,
    };
    const FED: Demand = Demand {
        hungry: false,
        roomy: true,
    };

    #[test]
    fn full_reads_double_while_the_handlers_go_hungry_up_to_the_most() {
        let cfg = config(128, 512);
        let mut asked = cfg.batch;
        let mut seen = Vec::new();
        for _ in 0..4 {
            asked = next_count(asked, asked, HUNGRY, &cfg);
            seen.push(asked);
        }
        assert_eq!(seen, [256, 512, 512, 512]);
        assert_eq!(next_count(256, 256, FED, &cfg), 256, "fed: as many again");
    }

    #[test]
    fn a_short_read_or_a_worker_short_of_room_reads_batch_again() {
        let cfg = config(128, 512);
        assert_eq!(next_count(511, 512, HUNGRY, &cfg), 128, "a short read");
        assert_eq!(next_count(0, 512, HUNGRY, &cfg), 128, "an empty read");
        let cramped = Demand {
            hungry: true,
            roomy: false,
        };
        assert_eq!(next_count(256, 256, cramped, &cfg), 128);
    }

    #[test]
    fn handlers_that_never_go_hungry_keep_reads_at_batch() {
        let cfg = config(128, 512);
        assert_eq!(next_count(128, 128, FED, &cfg), 128);
    }

    #[test]
    fn the_most_is_never_below_batch() {
        let cfg = config(1000, 512);
        assert_eq!(cfg.read_max(), 1000);
        assert_eq!(next_count(1000, 1000, HUNGRY, &cfg), 1000);
        assert_eq!(next_count(64, 64, HUNGRY, &config(64, 64)), 64);
    }
}
