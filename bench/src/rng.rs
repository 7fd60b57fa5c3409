//! A small deterministic random source (splitmix64) and the ids derived from it. The county
//! generator needs the same database from the same seed, on any machine, and millions of draws
//! per second; splitmix64 gives both in ten lines, so no crate is needed.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The splitmix64 finaliser: a bijective mix of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A splitmix64 generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream named by `parts` (e.g. a purpose and an index) under `seed`: streams are
    /// independent of each other, so each day or village can be drawn on its own.
    pub fn stream(seed: u64, parts: &[u64]) -> Self {
        let mut state = mix(seed ^ 0x6d69_6e71_696e_6700);
        for part in parts {
            state = mix(state ^ mix(part.wrapping_add(0x9e37_79b9_7f4a_7c15)));
        }
        Self(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `low..high` (`low` when the range is empty).
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        low + self.below((high - low) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A UUIDv7 for a record made at `at`: the time in the first 48 bits (so ids sort like
    /// the server's `Uuid::now_v7()` ids, and an issue's timeline is in id order), the rest
    /// drawn from this stream.
    pub fn uuid_v7(&mut self, at: DateTime<Utc>) -> Uuid {
        let millis = (at.timestamp_millis().max(0) as u128) & ((1 << 48) - 1);
        let random = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        let rand_a = (random >> 64) & 0x0fff;
        let rand_b = random & ((1 << 62) - 1);
        Uuid::from_u128((millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
    }
}

/// The id of record `index` of `kind` made at `at`: the same for the same seed, whatever else
/// was drawn (households are named this way so that visits can refer to them by index).
pub fn id_of(seed: u64, kind: u64, index: u64, at: DateTime<Utc>) -> Uuid {
    Rng::stream(seed, &[kind, index]).uuid_v7(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_repeats_itself_and_differs_from_its_neighbours() {
        let draw = |parts: &[u64]| {
            let mut rng = Rng::stream(42, parts);
            (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(&[1, 2]), draw(&[1, 2]));
        assert_ne!(draw(&[1, 2]), draw(&[1, 3]));
        assert_ne!(draw(&[1, 2]), draw(&[2, 1]));
    }

    #[test]
    fn ids_are_version_7_with_the_time_first() {
        let at = DateTime::from_timestamp_millis(1_780_000_000_123).unwrap_or_default();
        let id = Rng::stream(1, &[]).uuid_v7(at);
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        let (seconds, nanos) = id
            .get_timestamp()
            .map(|stamp| stamp.to_unix())
            .unwrap_or_default();
        assert_eq!(
            seconds * 1000 + u64::from(nanos) / 1_000_000,
            1_780_000_000_123
        );
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::stream(7, &[]);
        assert!((0..10_000).all(|_| rng.below(7) < 7));
        assert_eq!(rng.range(5, 5), 5);
    }
}
