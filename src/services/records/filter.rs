//! The browser's `/` filter: words that must each appear in the patient's or provider's name, the
//! record type or the title, and an optional date range, typed as one line.

use chrono::{Datelike, NaiveDate};

use crate::services::ServiceError;

/// A parsed filter. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Lower-case words; every one must match somewhere.
    pub words: Vec<String>,
    /// Inclusive date bounds.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Filter {
    /// Parses what was typed after `/`. A date range is written `2024-01-01..2024-02-29`, with either
    /// end left open (`2024-02..`), or as one day, month or year (`2024-02-01`, `2024-02`, `2024`).
    pub fn parse(text: &str) -> Result<Filter, ServiceError> {
        let mut filter = Filter::default();
        for word in text.split_whitespace() {
            if let Some((a, b)) = word.split_once("..") {
                let from = if a.is_empty() {
                    None
                } else {
                    Some(period(a)?.0)
                };
                let to = if b.is_empty() {
                    None
                } else {
                    Some(period(b)?.1)
                };
                filter.narrow(from, to)?;
            } else if looks_like_date(word) {
                let (from, to) = period(word)?;
                filter.narrow(Some(from), Some(to))?;
            } else {
                filter.words.push(word.to_lowercase());
            }
        }
        Ok(filter)
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.from.is_none() && self.to.is_none()
    }

    fn narrow(
        &mut self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<(), ServiceError> {
        if self.from.is_some() || self.to.is_some() {
            return Err(ServiceError::Invalid(
                "The filter has two date ranges; give one.".into(),
            ));
        }
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ServiceError::Invalid(format!(
                "The date range {f}..{t} ends before it starts."
            )));
        }
        self.from = from;
        self.to = to;
        Ok(())
    }

    /// Whether every word appears in one of `fields` (already lower-case).
    pub fn matches(&self, fields: &[&str]) -> bool {
        self.words
            .iter()
            .all(|w| fields.iter().any(|f| f.contains(w.as_str())))
    }
}

fn looks_like_date(word: &str) -> bool {
    let digits = word.chars().filter(|c| c.is_ascii_digit()).count();
    word.len() >= 4
        && word.starts_with(|c: char| c.is_ascii_digit())
        && digits >= 4
        && word.chars().all(|c| c.is_ascii_digit() || c == '-')
}

/// The first and last day of a day, month (`2024-02`) or year (`2024`).
fn period(text: &str) -> Result<(NaiveDate, NaiveDate), ServiceError> {
    let bad = || {
        ServiceError::Invalid(format!(
            "{text:?} is not a date; write 2024-02-01, 2024-02 or 2024."
        ))
    };
    let parts: Vec<&str> = text.split('-').collect();
    let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
    match parts.as_slice() {
        [y] if y.len() == 4 => {
            let y = num(y)? as i32;
            let from = NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(bad)?;
            let to = NaiveDate::from_ymd_opt(y, 12, 31).ok_or_else(bad)?;
            Ok((from, to))
        }
        [y, m] if y.len() == 4 => {
            let from = NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, 1).ok_or_else(bad)?;
            let next = from
                .with_day(1)
                .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                .ok_or_else(bad)?;
            Ok((from, next.pred_opt().ok_or_else(bad)?))
        }
        [y, m, d] if y.len() == 4 => {
            let day = NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?).ok_or_else(bad)?;
            Ok((day, day))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn words_and_date_ranges() {
        let f = Filter::parse("  Alice  LAB 2024-01..2024-02-15 ").unwrap();
        assert_eq!(f.words, ["alice", "lab"]);
        assert_eq!(
            (f.from, f.to),
            (Some(d("2024-01-01")), Some(d("2024-02-15")))
        );
        let f = Filter::parse("2024-02").unwrap();
        assert_eq!(
            (f.from, f.to),
            (Some(d("2024-02-01")), Some(d("2024-02-29")))
        );
        let f = Filter::parse("..2023").unwrap();
        assert_eq!((f.from, f.to), (None, Some(d("2023-12-31"))));
        assert!(Filter::parse("").unwrap().is_empty());
        assert!(f.matches(&["anything"]));
    }

    #[test]
    fn bad_dates_are_named() {
        let e = Filter::parse("2024-13").unwrap_err().to_string();
        assert!(e.contains("\"2024-13\" is not a date"), "{e}");
        let e = Filter::parse("2024-03..2024-01").unwrap_err().to_string();
        assert!(e.contains("ends before it starts"), "{e}");
        let e = Filter::parse("2024 2023").unwrap_err().to_string();
        assert!(e.contains("two date ranges"), "{e}");
    }

    #[test]
    fn every_word_must_match_some_field() {
        let f = Filter::parse("alice blood").unwrap();
        assert!(f.matches(&["alice anderson", "john smith", "lab_result", "blood work"]));
        assert!(!f.matches(&["alice anderson", "john smith", "lab_result", "annual"]));
    }
}
