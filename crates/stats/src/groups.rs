//! Splitting observations by a group label, in the sorted order R gives
//! factor levels, so that per-group output lines up with R's strata.

/// Distinct labels in sorted order and, per observation, its label's index.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    /// Distinct labels, sorted.
    pub labels: Vec<String>,
    /// Index into `labels` for each observation.
    pub index: Vec<usize>,
}

impl Groups {
    /// Groups the observations by `labels`.
    pub fn new<S: AsRef<str>>(labels: &[S]) -> Self {
        let mut distinct: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let index = labels
            .iter()
            .map(|l| {
                distinct
                    .binary_search(&l.as_ref())
                    .expect("label was collected")
            })
            .collect();
        Self {
            labels: distinct.into_iter().map(str::to_owned).collect(),
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
