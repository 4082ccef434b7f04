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

    /// Groups observations already coded as `ids` into `labels` (first-seen
    /// order, as a file reader meets them), re-coded to sorted label order.
    pub fn from_ids(labels: Vec<String>, ids: &[u32]) -> Self {
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by(|&a, &b| labels[a].cmp(&labels[b]));
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
