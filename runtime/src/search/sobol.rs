//! Scrambled Sobol' sequence (Joe–Kuo direction numbers, random digital shift from the seed): a
//! low-discrepancy design for up to 21 parameters.

use rand::Rng;

use super::space::Space;
use super::{Proposal, Sampler, SamplerError, Suggestion, Trial, trial_rng};

/// Joe & Kuo (2008) `new-joe-kuo-6.21201`, dimensions 2..=21: (s, a, m₁…mₛ).
const DIRECTIONS: [(u32, u32, &[u32]); 20] = [
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
    (6, 19, &[1, 1, 1, 15, 7, 5]),
    (6, 22, &[1, 3, 1, 15, 13, 25]),
    (6, 25, &[1, 1, 5, 5, 19, 61]),
    (7, 1, &[1, 3, 7, 11, 23, 15, 103]),
    (7, 4, &[1, 3, 7, 13, 13, 15, 69]),
];

pub(crate) const MAX_DIMENSIONS: usize = DIRECTIONS.len() + 1;
const BITS: usize = 32;

/// The unscrambled sequence's direction numbers, one row of 32 per dimension.
pub(crate) struct Sobol {
    v: Vec<[u32; BITS]>,
}

impl Sobol {
    pub(crate) fn new(dims: usize) -> Result<Sobol, SamplerError> {
        if dims > MAX_DIMENSIONS {
            return Err(SamplerError::TooManyDimensions { max: MAX_DIMENSIONS, dims });
        }
        let mut v = Vec::with_capacity(dims);
        for d in 0..dims {
            let mut row = [0u32; BITS];
            if d == 0 {
                for (k, slot) in row.iter_mut().enumerate() {
                    *slot = 1 << (31 - k);
                }
            } else {
                let (s, a, m) = DIRECTIONS[d - 1];
                let s = s as usize;
                for k in 0..BITS {
                    row[k] = if k < s {
                        m[k] << (31 - k)
                    } else {
                        let mut x = row[k - s] ^ (row[k - s] >> s);
                        for i in 1..s {
                            if (a >> (s - 1 - i)) & 1 == 1 {
                                x ^= row[k - i];
                            }
                        }
                        x
                    };
                }
            }
            v.push(row);
        }
        Ok(Sobol { v })
    }

    /// The `index`-th point (Gray-code order) as 32-bit integers.
    pub(crate) fn point_bits(&self, index: u64) -> Vec<u32> {
        let gray = index ^ (index >> 1);
        self.v
            .iter()
            .map(|row| {
                let mut x = 0u32;
                for (k, dir) in row.iter().enumerate() {
                    if (gray >> k) & 1 == 1 {
                        x ^= dir;
                    }
                }
                x
            })
            .collect()
    }
}

pub(crate) struct SobolSampler {
    sobol: Sobol,
    shift: Vec<u32>,
}

impl SobolSampler {
    pub(crate) fn new(space: &Space, seed: u64) -> Result<SobolSampler, SamplerError> {
        let sobol = Sobol::new(space.params.len())?;
        let mut rng = trial_rng(seed, 0, 0x50b0);
        let shift = (0..space.params.len()).map(|_| rng.random::<u32>()).collect();
        Ok(SobolSampler { sobol, shift })
    }

    /// The `index`-th scrambled point in [0, 1)^d; the digital shift keeps every net property.
    pub(crate) fn unit_point(&self, index: u64) -> Vec<f64> {
        let scale = 1.0 / 4_294_967_296.0;
        self.sobol.point_bits(index).iter().zip(&self.shift).map(|(x, s)| (f64::from(x ^ s) + 0.5) * scale).collect()
    }
}

impl Sampler for SobolSampler {
    fn suggest(&mut self, space: &Space, history: &[Trial]) -> Proposal {
        let u = self.unit_point(history.len() as u64);
        let params = space.params.iter().zip(u).map(|(p, u)| p.dim().value_at_unit(u)).collect();
        Proposal::Trial(Suggestion { params, resource: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Distribution, Param, ParamType, Value};

    fn unit_space(d: usize) -> Space {
        Space {
            params: (0..d)
                .map(|i| Param {
                    name: format!("x{i}"),
                    ty: ParamType::Float,
                    distribution: Distribution::Uniform { low: 0.0, high: 1.0 },
                })
                .collect(),
        }
    }

    #[test]
    fn every_dimension_is_stratified() {
        let s = SobolSampler::new(&unit_space(MAX_DIMENSIONS), 9).expect("sobol");
        let m = 6;
        for d in 0..MAX_DIMENSIONS {
            let mut seen = vec![false; 1 << m];
            for i in 0..(1u64 << m) {
                let cell = (s.unit_point(i)[d] * f64::from(1u32 << m)) as usize;
                assert!(!seen[cell], "dimension {d}: two points in cell {cell}");
                seen[cell] = true;
            }
        }
    }

    #[test]
    fn first_two_dimensions_form_a_net() {
        // Every elementary box of area 2^-m holds exactly one of the first 2^m points: a (0, m, 2)-net.
        let s = SobolSampler::new(&unit_space(2), 4).expect("sobol");
        let m = 8u32;
        let pts: Vec<Vec<f64>> = (0..(1u64 << m)).map(|i| s.unit_point(i)).collect();
        for a in 0..=m {
            let (nx, ny) = (f64::from(1u32 << a), f64::from(1u32 << (m - a)));
            let mut counts = vec![0u32; 1 << m];
            for p in &pts {
                let cell = (p[0] * nx) as usize * (1 << (m - a)) + (p[1] * ny) as usize;
                counts[cell] += 1;
            }
            assert!(counts.iter().all(|c| *c == 1), "boxes 2^-{a} x 2^-{}", m - a);
        }
    }

    #[test]
    fn known_unscrambled_points() {
        let s = Sobol::new(3).expect("sobol");
        let f = |i| s.point_bits(i).iter().map(|x| f64::from(*x) / 4_294_967_296.0).collect::<Vec<_>>();
        assert_eq!(f(1), vec![0.5, 0.5, 0.5]);
        assert_eq!(f(2), vec![0.75, 0.25, 0.25]);
        assert_eq!(f(3), vec![0.25, 0.75, 0.75]);
        assert_eq!(f(4), vec![0.375, 0.375, 0.625]);
    }

    #[test]
    fn seeds_shift_the_sequence_and_too_many_dimensions_are_refused() {
        let space = unit_space(2);
        let a = SobolSampler::new(&space, 1).expect("sobol").suggest(&space, &[]);
        let b = SobolSampler::new(&space, 1).expect("sobol").suggest(&space, &[]);
        let c = SobolSampler::new(&space, 2).expect("sobol").suggest(&space, &[]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(Sobol::new(MAX_DIMENSIONS + 1).is_err());
        let Proposal::Trial(s) = a else { panic!("sobol always proposes") };
        assert!(s.params.iter().all(|v| matches!(v, Value::Float(x) if (0.0..1.0).contains(x))));
    }
}
