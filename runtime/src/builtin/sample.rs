//! `kfl builtin sample`: draw rows of a CSV table uniformly at random, without replacement, with a seed.

use std::path::Path;

use super::BuiltinError;
use super::csv_table::Table;
use super::output;
use super::seeded::Rng;

/// What `sample` did, for the command line to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSummary {
    pub rows: usize,
    pub sampled: usize,
}

/// Reads `data` and writes `rows` of its rows (with the header) to `out`. A table with fewer rows than asked
/// is copied whole, so the component's default (1000) works on small tables; the summary says how many.
pub fn sample(data: &Path, out: &Path, rows: i64, seed: i64) -> Result<SampleSummary, BuiltinError> {
    let wanted =
        usize::try_from(rows).map_err(|_| BuiltinError::new(format!("--rows must be 0 or more, got {rows}")))?;
    let table = Table::read(data)?;
    let chosen = choose(table.rows.len(), wanted, seed);
    output::write_file(out, &table.to_csv(&chosen))?;
    Ok(SampleSummary { rows: table.rows.len(), sampled: chosen.len() })
}

/// `min(k, n)` distinct indices of `0..n`, every subset equally likely, returned in table order so the
/// sample reads like the table it came from.
pub fn choose(n: usize, k: usize, seed: i64) -> Vec<usize> {
    let k = k.min(n);
    let mut pool: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    // A partial Fisher–Yates: the first k slots end up a uniform k-subset.
    for i in 0..k {
        let j = i + rng.below((n - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool.sort_unstable();
    pool
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_distinct_sorted_rows_following_the_seed() {
        let picked = choose(100, 10, 3);
        assert_eq!(picked.len(), 10);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(choose(100, 10, 3), picked);
        assert_ne!(choose(100, 10, 4), picked);
    }

    #[test]
    fn every_row_is_about_equally_likely() {
        let mut hits = [0u32; 10];
        for seed in 0..2000 {
            for i in choose(10, 3, seed) {
                hits[i] += 1;
            }
        }
        // Expected 600 each.
        assert!(hits.iter().all(|&h| (500..700).contains(&h)), "{hits:?}");
    }

    #[test]
    fn asking_for_more_rows_than_there_are_copies_the_table() {
        assert_eq!(choose(4, 10, 0), [0, 1, 2, 3]);
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("d.csv");
        std::fs::write(&data, "x\n1\n2\n3\n").expect("write");
        let out = dir.path().join("s.csv");
        assert_eq!(sample(&data, &out, 1000, 0), Ok(SampleSummary { rows: 3, sampled: 3 }));
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "x\n1\n2\n3\n");
        assert_eq!(sample(&data, &out, 2, 9).expect("sample").sampled, 2);
    }

    #[test]
    fn negative_rows_are_refused() {
        let err = sample(Path::new("d.csv"), Path::new("o.csv"), -1, 0).expect_err("refused");
        assert_eq!(err.0, "--rows must be 0 or more, got -1");
    }
}
