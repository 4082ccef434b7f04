//! Splitting observations by a group label, in the sorted order R gives
//! factor levels, so that per-group output lines up with R's strata.

use std::cmp::Ordering;

/// Distinct labels in sorted order and, per observation, its label's index.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    /// Distinct labels, sorted.
    pub labels: Vec<String>,
    /// Index into `labels` for each observation.
    pub index: Vec<usize>,
}

/// R's order of factor levels: a column whose values are all numbers is
/// sorted as numbers (2 before 10), as `factor` sorts a numeric column;
/// any other column by its bytes, as R sorts text in the C locale.
/// Labels that are the same number written differently ("1", "1.0")
/// stay apart, ordered by their bytes.
fn level_order(labels: &[&str]) -> Vec<usize> {
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    let mut order: Vec<usize> = (0..labels.len()).collect();
    match numbers {
        Some(x) => order.sort_by(|&a, &b| {
            x[a].partial_cmp(&x[b])
                .unwrap_or(Ordering::Equal)
                .then_with(|| labels[a].cmp(labels[b]))
        }),
        None => order.sort_by(|&a, &b| labels[a].cmp(labels[b])),
    }
    order
}

impl Groups {
    /// Groups the observations by `labels`.
    pub fn new<S: AsRef<str>>(labels: &[S]) -> Self {
        let mut ids = std::collections::HashMap::new();
        let mut distinct: Vec<String> = Vec::new();
        let index: Vec<u32> = labels
            .iter()
            .map(|l| {
                *ids.entry(l.as_ref()).or_insert_with(|| {
                    distinct.push(l.as_ref().to_owned());
                    distinct.len() as u32 - 1
                })
            })
            .collect();
        Self::from_ids(distinct, &index)
    }

    /// Groups observations already coded as `ids` into `labels` (first-seen
    /// order, as a file reader meets them), re-coded to sorted label order.
    pub fn from_ids(labels: Vec<String>, ids: &[u32]) -> Self {
        let order = level_order(&labels.iter().map(String::as_str).collect::<Vec<_>>());
        let mut rank = vec![0usize; labels.len()];
        for (r, &o) in order.iter().enumerate() {
            rank[o] = r;
        }
        let index = ids.iter().map(|&i| rank[i as usize]).collect();
        let mut labels: Vec<Option<String>> = labels.into_iter().map(Some).collect();
        let sorted = order
            .iter()
            .map(|&o| labels[o].take().expect("each label once"))
            .collect();
        Self {
            labels: sorted,
            index,
        }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no observations.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The values of `column` belonging to group `g`.
    pub fn select<T: Copy>(&self, g: usize, column: &[T]) -> Vec<T> {
        self.index
            .iter()
            .zip(column)
            .filter(|(i, _)| **i == g)
            .map(|(_, v)| *v)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_labels_sort_as_numbers_and_text_as_bytes() {
        let g = Groups::new(&["10", "2", "9", "2", "1.5"]);
        assert_eq!(g.labels, ["1.5", "2", "9", "10"]);
        assert_eq!(g.index, [3, 1, 2, 1, 0]);
        let g = Groups::new(&["b", "a", "B", "10", "2"]);
        assert_eq!(g.labels, ["10", "2", "B", "a", "b"]);
        let g = Groups::new(&["1.0", "1", "-3"]);
        assert_eq!(g.labels, ["-3", "1", "1.0"]);
    }
}
