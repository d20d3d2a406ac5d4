//! Statistics over seeds: the mean and sample standard deviation of the values present, and
//! compare.csv's `mean` / `std` rows per method label.
use super::CompareRow;

/// Mean of the values present; `None` when there are none.
pub fn mean(v: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = v.into_iter().flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Sample standard deviation (n − 1) of the values present; `None` below two values.
pub fn std(v: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = v.into_iter().flatten().collect();
    if v.len() < 2 {
        return None;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    Some((v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

/// A statistic over the seeds' values of one column.
type Stat = fn(Vec<Option<f64>>) -> Option<f64>;

/// `mean` and `std` rows per method label, in first-seen order.
pub(super) fn summarize(rows: &[CompareRow]) -> Vec<CompareRow> {
    let mut labels: Vec<&str> = Vec::new();
    for r in rows {
        if !labels.contains(&r.method.as_str()) {
            labels.push(&r.method);
        }
    }
    let mut out = Vec::new();
    for l in labels {
        let group: Vec<&CompareRow> = rows.iter().filter(|r| r.method == l).collect();
        let stats: [(&str, Stat); 2] = [("mean", |v| mean(v)), ("std", |v| std(v))];
        for (name, f) in stats {
            let cols = std::array::from_fn(|i| f(group.iter().map(|r| r.values()[i]).collect()));
            out.push(CompareRow::from_values(l, name, cols));
        }
    }
    out
}
