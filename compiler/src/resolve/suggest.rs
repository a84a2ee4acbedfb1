//! "Did you mean …?": the closest candidate by edit distance.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1) + usize::from(name.len() > 6);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let prefix_match = candidate.starts_with(name) || name.starts_with(candidate);
        // The edit distance is at least the length difference: skip the
        // quadratic comparison for candidates that cannot be close.
        if !prefix_match && candidate.len().abs_diff(name.len()) > limit {
            continue;
        }
        let distance = levenshtein(name, candidate);
        let close = distance <= limit || (prefix_match && name.len() >= 3);
        if close && best.is_none_or(|(d, c)| distance < d || (distance == d && candidate < c)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `help` text for a suggestion.
pub fn help(name: &str, candidates: &[&str]) -> Option<String> {
    did_you_mean(name, candidates.iter().copied()).map(|s| format!("did you mean `{s}`?"))
}

/// Edit distance where swapping two neighbours counts as one edit
/// (optimal string alignment): `rwa` is one typo away from `raw`.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best =
                (d[(i - 1) * width + j] + 1).min(d[i * width + j - 1] + 1).min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("framwork", ["framework", "nodes"]), Some("framework"));
        assert_eq!(did_you_mean("rwa", ["raw", "prepare"]), Some("raw"));
        assert_eq!(did_you_mean("xyz", ["framework", "nodes"]), None);
        assert_eq!(did_you_mean("acuracy", ["accuracy", "loss"]), Some("accuracy"));
    }
}
