//! Part sizes for streaming uploads whose total size is unknown when they start.
//!
//! S3 (and GCS's and Azure's equivalents) allow at most 10,000 parts of 5 MiB to 5 GiB each,
//! the last part excepted from the minimum. Since the encoder streams, the upload cannot size
//! its parts from the total; instead the part size doubles every `PARTS_PER_STEP` parts, so the
//! first gigabytes use the configured size (and its memory budget) and an object of 5 TiB still
//! fits in fewer than 10,000 parts, even from the smallest starting size.

/// Smallest part S3 accepts, except for the last one.
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// Most parts in one upload.
#[cfg(test)]
const MAX_PARTS: u64 = 10_000;
/// Largest object S3 stores.
#[cfg(test)]
const MAX_OBJECT_SIZE: u64 = 5 << 40;
/// Parts uploaded at one size before the size doubles.
pub const PARTS_PER_STEP: u64 = 500;

/// The size of every part of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    first_part_size: u64,
}

impl PartPlan {
    /// `first_part_size` is clamped into S3's limits.
    pub fn new(first_part_size: u64) -> Self {
        PartPlan {
            first_part_size: first_part_size.clamp(MIN_PART_SIZE, MAX_PART_SIZE),
        }
    }

    /// Size of part `index` (0-based); the last part of an upload may be shorter.
    pub fn part_size(&self, index: u64) -> u64 {
        let doublings = (index / PARTS_PER_STEP).min(32);
        self.first_part_size
            .saturating_mul(1 << doublings)
            .min(MAX_PART_SIZE)
    }

    /// Parts an object of `size` bytes is split into (a single PUT counts as one).
    #[cfg(test)]
    fn parts_for(&self, size: u64) -> u64 {
        let mut remaining = size;
        let mut parts = 0;
        loop {
            parts += 1;
            let part = self.part_size(parts - 1);
            if remaining <= part {
                return parts;
            }
            remaining -= part;
        }
    }

    /// The largest object this plan can upload within `MAX_PARTS`.
    #[cfg(test)]
    fn max_object_size(&self) -> u64 {
        (0..MAX_PARTS).map(|index| self.part_size(index)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;

    #[test]
    fn every_object_up_to_5_tib_fits_s3_limits_from_any_first_part_size() {
        let sizes = [
            0,
            1,
            5 * MIB,
            100 * MIB,
            8 * GIB,
            100 * GIB,
            TIB,
            3 * TIB,
            5 * TIB,
        ];
        for first in [
            MIN_PART_SIZE,
            8 * MIB,
            16 * MIB,
            100 * MIB,
            GIB,
            MAX_PART_SIZE,
        ] {
            let plan = PartPlan::new(first);
            assert!(
                plan.max_object_size() >= MAX_OBJECT_SIZE,
                "first part {first}"
            );
            for size in sizes {
                let parts = plan.parts_for(size);
                assert!(
                    (1..=MAX_PARTS).contains(&parts),
                    "{size} bytes: {parts} parts"
                );
                for index in 0..parts {
                    let part = plan.part_size(index);
                    assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part));
                }
            }
        }
    }

    #[test]
    fn parts_keep_their_size_for_the_first_step_then_double() {
        let plan = PartPlan::new(16 * MIB);
        assert_eq!(plan.part_size(0), 16 * MIB);
        assert_eq!(plan.part_size(PARTS_PER_STEP - 1), 16 * MIB);
        assert_eq!(plan.part_size(PARTS_PER_STEP), 32 * MIB);
        assert_eq!(plan.part_size(9 * PARTS_PER_STEP), MAX_PART_SIZE);
        assert_eq!(plan.parts_for(0), 1);
        assert_eq!(plan.parts_for(16 * MIB), 1);
        assert_eq!(plan.parts_for(16 * MIB + 1), 2);
        // 5 TiB from 5 MiB parts: ten steps of 500 parts (5 MiB to 2.5 GiB) hold
        // 500 * 5 MiB * 1023 = 2,557,500 MiB; the other 2,685,380 MiB need 525 parts of 5 GiB.
        assert_eq!(PartPlan::new(MIN_PART_SIZE).parts_for(5 * TIB), 5525);
    }

    #[test]
    fn out_of_range_first_sizes_are_clamped() {
        assert_eq!(PartPlan::new(1).part_size(0), MIN_PART_SIZE);
        assert_eq!(PartPlan::new(u64::MAX).part_size(0), MAX_PART_SIZE);
    }
}
