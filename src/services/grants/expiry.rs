//! When a grant ends. People choose a day; the grant lasts to the end of that day (UTC). The expiry
//! must be in the future and at most `HSC_GRANT_MAX_DAYS` ahead (two years unless configured).

use chrono::{DateTime, Days, Months, NaiveDate, NaiveTime, Utc};

/// The last microsecond of a day (PostgreSQL keeps microseconds).
const LAST_MOMENT: NaiveTime = match NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999) {
    Some(t) => t,
    None => panic!("23:59:59.999999 is a time of day"),
};

/// The last moment of `date`, UTC: a grant "until 2027-11-27" works through that whole day.
pub fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(LAST_MOMENT).and_utc()
}

/// The latest day a grant made `today` may run to.
pub fn latest_expiry_date(today: NaiveDate, max_days: u32) -> NaiveDate {
    today
        .checked_add_days(Days::new(u64::from(max_days)))
        .unwrap_or(NaiveDate::MAX)
}

/// Reads an expiry as typed: a date (`2027-11-27`) or a time from `today` (`90d`, `12w`, `6m`,
/// `1y`). Errors are one sentence quoting what was typed.
pub fn parse_expiry(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let t = text.trim().trim_start_matches('+').to_ascii_lowercase();
    if t.is_empty() {
        return Err(
            "Give the expiry as a date such as 2027-06-30, or as 90d, 12w, 6m or 1y.".into(),
        );
    }
    if let Ok(date) = NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
        return Ok(date);
    }
    let unit = t.chars().last().unwrap_or(' ');
    let count = t[..t.len() - unit.len_utf8()].parse::<u32>().ok();
    let date = match (count, unit) {
        (Some(n), 'd') => today.checked_add_days(Days::new(u64::from(n))),
        (Some(n), 'w') => today.checked_add_days(Days::new(7 * u64::from(n))),
        (Some(n), 'm') => today.checked_add_months(Months::new(n)),
        (Some(n), 'y') => n
            .checked_mul(12)
            .and_then(|m| today.checked_add_months(Months::new(m))),
        _ => {
            return Err(format!(
                "{:?} is not an expiry; give a date such as 2027-06-30, or 90d, 12w, 6m or 1y.",
                text.trim()
            ));
        }
    };
    date.ok_or_else(|| format!("{:?} is too far ahead to be an expiry.", text.trim()))
}

/// The day a typed expiry names, checked as `expiry_problem` checks it; `today` unknown (the console
/// has not read the clock yet) is said so.
pub fn typed_expiry(
    text: &str,
    today: Option<NaiveDate>,
    max_days: u32,
) -> Result<NaiveDate, String> {
    let today = today.ok_or("Today's date is not known yet; try again in a moment.")?;
    let date = parse_expiry(text, today)?;
    match expiry_problem(date, today, max_days) {
        Some(problem) => Err(problem),
        None => Ok(date),
    }
}

/// Why `date` cannot be a grant's new expiry chosen `today`, if it cannot.
pub fn expiry_problem(date: NaiveDate, today: NaiveDate, max_days: u32) -> Option<String> {
    if date < today {
        return Some(format!(
            "The expiry {date} is in the past; choose today or a later day."
        ));
    }
    let latest = latest_expiry_date(today, max_days);
    if date > latest {
        return Some(format!(
            "The expiry {date} is more than {max_days} days ahead; a grant may run until {latest} at the latest."
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn expiries_are_dates_or_times_from_today() {
        let today = day(2026, 11, 27);
        assert_eq!(parse_expiry("2027-06-30", today), Ok(day(2027, 6, 30)));
        assert_eq!(parse_expiry(" 90d ", today), Ok(day(2027, 2, 25)));
        assert_eq!(parse_expiry("+2w", today), Ok(day(2026, 12, 11)));
        assert_eq!(parse_expiry("6m", today), Ok(day(2027, 5, 27)));
        assert_eq!(parse_expiry("1Y", today), Ok(day(2027, 11, 27)));
        for bad in ["next week", "2027-13-01", "d", "5x", "-3d"] {
            let e = parse_expiry(bad, today).unwrap_err();
            assert!(e.contains("is not an expiry"), "{bad}: {e}");
        }
        assert!(
            parse_expiry("", today)
                .unwrap_err()
                .starts_with("Give the expiry")
        );
        assert!(
            parse_expiry("4000000000y", today)
                .unwrap_err()
                .contains("too far ahead")
        );
    }

    #[test]
    fn an_expiry_is_today_or_later_and_within_the_limit() {
        let today = day(2026, 11, 27);
        assert_eq!(expiry_problem(today, today, 730), None);
        assert_eq!(expiry_problem(day(2028, 11, 26), today, 730), None);
        let past = expiry_problem(day(2026, 11, 26), today, 730).unwrap();
        assert_eq!(
            past,
            "The expiry 2026-11-26 is in the past; choose today or a later day."
        );
        assert_eq!(typed_expiry("1y", Some(today), 730), Ok(day(2027, 11, 27)));
        assert!(typed_expiry("3y", Some(today), 730).is_err());
        assert_eq!(
            typed_expiry("1y", None, 730),
            Err("Today's date is not known yet; try again in a moment.".into())
        );
        let far = expiry_problem(day(2028, 11, 27), today, 730).unwrap();
        assert!(far.contains("more than 730 days ahead"), "{far}");
        assert!(far.contains("2028-11-26 at the latest"), "{far}");
        assert_eq!(
            end_of_day(today).to_rfc3339(),
            "2026-11-27T23:59:59.999999+00:00"
        );
    }
}
