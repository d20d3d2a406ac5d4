//! One rule for a metrics.csv header that names a column twice: which of the two holds the
//! metric is unknown, so a reader leaves the file's run out (or refuses it), naming the file,
//! the name and both positions. Names are compared with surrounding spaces trimmed, as the
//! plot reader matches them (`loss` and ` loss` are one column to it).
use std::path::Path;

/// The first name `header` gives twice, with its two positions (1-based), if any.
pub fn doubled(header: &[String]) -> Option<(String, usize, usize)> {
    let names: Vec<&str> = header.iter().map(|h| h.trim()).collect();
    names.iter().enumerate().find_map(|(i, name)| {
        let j = names[i + 1..].iter().position(|h| h == name)?;
        Some((name.to_string(), i + 1, i + j + 2))
    })
}

/// Why the metrics.csv at `path` cannot be read column by column, if its header names a
/// column twice; `None` also where the file is missing or unreadable (its readers say why).
pub fn doubled_in_file(path: &Path) -> Option<String> {
    let file = crate::input::open_result(path).ok()?;
    let mut reader = csv::Reader::from_reader(file);
    let header: Vec<String> = reader.headers().ok()?.iter().map(String::from).collect();
    let (name, i, j) = doubled(&header)?;
    Some(format!(
        "{}: the header names column `{name}` twice (columns {i} and {j}; spaces around names \
         are ignored), so which one holds the values is unclear; rename or remove one",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_given_twice_is_found_with_both_positions() {
        let h = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert_eq!(super::doubled(&h("step,loss,lr")), None);
        assert_eq!(
            super::doubled(&h("step,loss,lr, loss")),
            Some(("loss".into(), 2, 4))
        );
        assert_eq!(super::doubled(&h("a,b,b,a")), Some(("a".into(), 1, 4)));
    }
}
