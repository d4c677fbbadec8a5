//! When each reviewer submits, relative to the start of the burst.
//!
//! A small seeded generator is enough here: the draw only has to be spread
//! out and repeatable between runs, not unpredictable.

use std::time::Duration;

use crate::config::Schedule;

/// SplitMix64: a few lines, good spread, same sequence for the same seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Submit offsets for `count` reviewers, in reviewer order.
///
/// With a window, each reviewer draws an instant uniformly inside it, the
/// way a crowd converges on a deadline. With a rate, the submits are evenly
/// spaced, but their order among reviewers is still shuffled so that no
/// company always goes first.
pub(crate) fn submit_offsets(schedule: Schedule, count: usize, seed: u64) -> Vec<Duration> {
    let mut rng = SplitMix64(seed);
    match schedule {
        Schedule::Window(window) => (0..count).map(|_| window.mul_f64(rng.unit())).collect(),
        Schedule::Rate(per_second) => {
            let mut slots: Vec<usize> = (0..count).collect();

            // Fisher-Yates shuffle of the slot each reviewer gets.
            for i in (1..slots.len()).rev() {
                let j = (rng.next() % (i as u64 + 1)) as usize;
                slots.swap(i, j);
            }
            slots
                .iter()
                .map(|slot| Duration::from_secs_f64(*slot as f64 / per_second))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_offsets_stay_inside_the_window_and_repeat_per_seed() {
        let window = Duration::from_secs(20);
        let first = submit_offsets(Schedule::Window(window), 500, 7);
        assert_eq!(first.len(), 500);
        assert!(first.iter().all(|offset| *offset < window));
        assert_eq!(first, submit_offsets(Schedule::Window(window), 500, 7));
        assert_ne!(first, submit_offsets(Schedule::Window(window), 500, 8));
    }

    #[test]
    fn window_offsets_spread_across_the_window() {
        let window = Duration::from_secs(10);
        let offsets = submit_offsets(Schedule::Window(window), 1_000, 1);
        let early = offsets
            .iter()
            .filter(|o| **o < Duration::from_secs(5))
            .count();
        assert!(
            (400..600).contains(&early),
            "{early} of 1000 in the first half"
        );
    }

    #[test]
    fn rate_offsets_take_every_slot_once() {
        let mut offsets = submit_offsets(Schedule::Rate(4.0), 8, 3);
        offsets.sort();
        let expected: Vec<Duration> = (0..8).map(|i| Duration::from_millis(i * 250)).collect();
        assert_eq!(offsets, expected);
    }
}
