//! Two versions of a record compared field by field, line by line (pure; no database).

use similar::{ChangeTag, TextDiff};

use super::Version;

/// How a line of a comparison differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
}

/// One line of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub change: Change,
    pub text: String,
}

/// The differences of one field; `lines` is empty when the field did not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    pub field: &'static str,
    pub lines: Vec<DiffLine>,
}

/// Line diff of `old` and `new`.
pub fn lines(old: &str, new: &str) -> Vec<DiffLine> {
    // Two unrelated 1 MB texts must not keep a thread busy: past the deadline the diff is coarser.
    TextDiff::configure()
        .timeout(std::time::Duration::from_millis(500))
        .diff_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            change: match c.tag() {
                ChangeTag::Equal => Change::Same,
                ChangeTag::Delete => Change::Removed,
                ChangeTag::Insert => Change::Added,
            },
            text: c.value().trim_end_matches('\n').to_string(),
        })
        .collect()
}

/// Every field of two versions, each with its line diff (unchanged fields have no lines).
pub fn compare(old: &Version, new: &Version) -> Vec<FieldDiff> {
    let metadata = |v: &Version| {
        v.content
            .metadata
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect::<String>()
    };
    let fields = [
        (
            "Type",
            old.record_type.label().to_string(),
            new.record_type.label().to_string(),
        ),
        (
            "Date",
            old.record_date.to_string(),
            new.record_date.to_string(),
        ),
        (
            "Title",
            old.content.title.clone(),
            new.content.title.clone(),
        ),
        (
            "Description",
            old.content.description.clone(),
            new.content.description.clone(),
        ),
        ("Metadata", metadata(old), metadata(new)),
    ];
    fields
        .into_iter()
        .map(|(field, a, b)| FieldDiff {
            field,
            lines: if a == b { Vec::new() } else { lines(&a, &b) },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_are_marked() {
        let d = lines("one\ntwo\nthree", "one\n2\nthree");
        let marks: Vec<(Change, &str)> = d.iter().map(|l| (l.change, l.text.as_str())).collect();
        assert_eq!(
            marks,
            [
                (Change::Same, "one"),
                (Change::Removed, "two"),
                (Change::Added, "2"),
                (Change::Same, "three")
            ]
        );
    }
}
