//! Time without a clock: UTC calendar arithmetic on epoch milliseconds.
//!
//! Every time in the keyservice is an `i64` of milliseconds since the Unix epoch, UTC,
//! passed in by the caller (the check and the reset computation never read a clock).
//! This module holds:
//! - LiteLLM durations: `"30s"`, `"30m"`, `"30h"`, `"30d"` (and `"2w"`, `"1mo"`), for
//!   a key's `duration` (expiry) and a budget's `budget_duration`;
//! - [`next_budget_reset`]: when a budget with a given `budget_duration` resets next,
//!   on LiteLLM's calendar boundaries (1d → next midnight UTC, 7d → next Monday,
//!   30d → the 1st of next month; other day counts every N days from today's midnight);
//! - ISO-8601 formatting and parsing for the JSON API.

/// Milliseconds in a second, minute, hour and day.
pub const SECOND_MS: i64 = 1_000;
/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The current time (the only place that reads the system clock).
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_millis() as i64
}

/// A parsed LiteLLM duration: a count and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    /// `Ns`
    Seconds(i64),
    /// `Nm`
    Minutes(i64),
    /// `Nh`
    Hours(i64),
    /// `Nd` (`Nw` is read as `7N` days)
    Days(i64),
    /// `Nmo`
    Months(i64),
}

/// Parses `"30s"`, `"30m"`, `"30h"`, `"30d"`, `"2w"`, `"1mo"`. The count must be a
/// positive integer.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| bad_duration(s))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().map_err(|_| bad_duration(s))?;
    if n <= 0 || n > 1_000_000 {
        return Err(bad_duration(s));
    }
    match unit {
        "s" => Ok(Duration::Seconds(n)),
        "m" => Ok(Duration::Minutes(n)),
        "h" => Ok(Duration::Hours(n)),
        "d" => Ok(Duration::Days(n)),
        "w" => Ok(Duration::Days(n * 7)),
        "mo" => Ok(Duration::Months(n)),
        _ => Err(bad_duration(s)),
    }
}

fn bad_duration(s: &str) -> String {
    format!(
        "Invalid duration '{s}'. Use a number followed by s, m, h, d, w or mo (e.g. \"30s\", \"30m\", \"30h\", \"30d\", \"1mo\")."
    )
}

/// `now + duration`: when a key created now with this `duration` expires. Months are
/// calendar months (the same day of the month, clamped to its last day).
pub fn add_duration(now: i64, d: Duration) -> i64 {
    match d {
        Duration::Seconds(n) => now + n * SECOND_MS,
        Duration::Minutes(n) => now + n * MINUTE_MS,
        Duration::Hours(n) => now + n * HOUR_MS,
        Duration::Days(n) => now + n * DAY_MS,
        Duration::Months(n) => {
            let day = now.div_euclid(DAY_MS);
            let ms_of_day = now.rem_euclid(DAY_MS);
            let (y, m, d) = civil_from_days(day);
            let (ny, nm) = add_months(y, m, n);
            let nd = d.min(days_in_month(ny, nm));
            days_from_civil(ny, nm, nd) * DAY_MS + ms_of_day
        }
    }
}

/// When a budget with `budget_duration` = `d`, looked at `now`, resets next. Always
/// strictly after `now`.
///
/// LiteLLM's standardized boundaries, in UTC:
/// - `Ns`: `now + N` seconds;
/// - `Nm`: the next multiple of N minutes since midnight (capped at the next midnight);
/// - `Nh`: the next multiple of N hours since midnight (capped at the next midnight);
/// - `1d`: the next midnight; `7d` (`1w`): the next Monday 00:00 (a week on from a
///   Monday); `30d`: the 1st of next month; any other `Nd`: today's midnight + N days;
/// - `Nmo`: the 1st of the month N months on.
pub fn next_budget_reset(d: Duration, now: i64) -> i64 {
    let day = now.div_euclid(DAY_MS);
    let midnight = day * DAY_MS;
    let next_midnight = midnight + DAY_MS;
    let since_midnight = now - midnight;
    match d {
        Duration::Seconds(n) => now + n * SECOND_MS,
        Duration::Minutes(n) => {
            let step = n * MINUTE_MS;
            (midnight + (since_midnight / step + 1) * step).min(next_midnight)
        }
        Duration::Hours(n) => {
            let step = n * HOUR_MS;
            (midnight + (since_midnight / step + 1) * step).min(next_midnight)
        }
        Duration::Days(1) => next_midnight,
        Duration::Days(7) => {
            let weekday = weekday_monday0(day);
            let days_until_monday = if weekday == 0 { 7 } else { 7 - weekday };
            midnight + days_until_monday * DAY_MS
        }
        Duration::Days(30) => first_of_month_after(day, 1),
        Duration::Days(n) => midnight + n * DAY_MS,
        Duration::Months(n) => first_of_month_after(day, n),
    }
}

/// Convenience: parse `budget_duration` and compute its next reset.
pub fn next_reset_for(budget_duration: &str, now: i64) -> Result<i64, String> {
    Ok(next_budget_reset(parse_duration(budget_duration)?, now))
}

fn first_of_month_after(day: i64, months: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    let (ny, nm) = add_months(y, m, months);
    days_from_civil(ny, nm, 1) * DAY_MS
}

fn add_months(y: i64, m: i64, n: i64) -> (i64, i64) {
    let total = y * 12 + (m - 1) + n;
    (total.div_euclid(12), total.rem_euclid(12) + 1)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Day of the week of a day number: 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub fn weekday_monday0(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day number.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2024-05-01T12:00:00.123+00:00`: ISO-8601 in UTC with milliseconds, a form Python's
/// `datetime.fromisoformat` reads on every version.
pub fn format_iso(ms: i64) -> String {
    let day = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(day);
    let (h, mi, s, milli) = (
        rem / HOUR_MS,
        rem % HOUR_MS / MINUTE_MS,
        rem % MINUTE_MS / SECOND_MS,
        rem % SECOND_MS,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}+00:00")
}

/// `YYYY-MM-DD` of a time.
pub fn format_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.frac]]` (`T` or a space), with an
/// optional `Z` or `±HH:MM` offset (none means UTC). Returns epoch milliseconds.
pub fn parse_iso(s: &str) -> Result<i64, String> {
    let err =
        || format!("Invalid date '{s}'. Use ISO-8601, e.g. 2024-05-01 or 2024-05-01T12:00:00Z.");
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(err)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        part.parse::<i64>().map_err(|_| err())
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(err());
    }
    let mut ms = days_from_civil(y, m, d) * DAY_MS;
    if b.len() == 10 {
        return Ok(ms);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(err());
    }
    let rest = &s[11..];
    // Split off the offset.
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (c, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = &off[1..];
        let (oh, om) = match off.split_once(':') {
            Some((h, m)) => (h, m),
            None if off.len() == 4 => (&off[..2], &off[2..]),
            None => (off, "0"),
        };
        let oh: i64 = oh.parse().map_err(|_| err())?;
        let om: i64 = om.parse().map_err(|_| err())?;
        (c, sign * (oh * HOUR_MS + om * MINUTE_MS))
    } else {
        (rest, 0)
    };
    let mut parts = clock.splitn(3, ':');
    let h: i64 = parts.next().unwrap_or("").parse().map_err(|_| err())?;
    let mi: i64 = parts.next().ok_or_else(err)?.parse().map_err(|_| err())?;
    let (sec, frac_ms) = match parts.next() {
        None => (0, 0),
        Some(sec) => match sec.split_once('.') {
            None => (sec.parse::<i64>().map_err(|_| err())?, 0),
            Some((whole, frac)) => {
                if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(err());
                }
                let mut f = frac.chars().take(3).collect::<String>();
                while f.len() < 3 {
                    f.push('0');
                }
                (
                    whole.parse::<i64>().map_err(|_| err())?,
                    f.parse::<i64>().map_err(|_| err())?,
                )
            }
        },
    };
    if h > 23 || mi > 59 || sec > 60 {
        return Err(err());
    }
    ms += h * HOUR_MS + mi * MINUTE_MS + sec * SECOND_MS + frac_ms;
    Ok(ms - offset_ms)
}

/// A float as Python's `str()` shows it (`1.0`, `0.5`, `1e-05`-free for ordinary
/// money amounts): Rust's shortest round-trip form, with `.0` added to whole numbers.
/// LiteLLM's messages (`Current cost: 1.0`) and headers use this form.
pub fn py_float(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        parse_iso(s).unwrap()
    }

    #[test]
    fn parses_litellm_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::Seconds(30)));
        assert_eq!(parse_duration("30m"), Ok(Duration::Minutes(30)));
        assert_eq!(parse_duration("30h"), Ok(Duration::Hours(30)));
        assert_eq!(parse_duration("30d"), Ok(Duration::Days(30)));
        assert_eq!(parse_duration("2w"), Ok(Duration::Days(14)));
        assert_eq!(parse_duration("1mo"), Ok(Duration::Months(1)));
        for bad in ["", "30", "d", "30x", "-1d", "0d", "1.5h", "30 days", "s30"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn expiry_adds_the_duration() {
        let now = at("2024-01-31T10:00:00Z");
        assert_eq!(add_duration(now, Duration::Seconds(30)), now + 30_000);
        assert_eq!(add_duration(now, Duration::Minutes(30)), now + 1_800_000);
        assert_eq!(add_duration(now, Duration::Hours(30)), now + 30 * HOUR_MS);
        assert_eq!(
            add_duration(now, Duration::Days(30)),
            at("2024-03-01T10:00:00Z")
        );
        // Calendar month, clamped to the end of February in a leap year.
        assert_eq!(
            add_duration(now, Duration::Months(1)),
            at("2024-02-29T10:00:00Z")
        );
    }

    #[test]
    fn daily_budget_resets_at_next_midnight() {
        let d = Duration::Days(1);
        assert_eq!(
            next_budget_reset(d, at("2024-05-01T13:45:00Z")),
            at("2024-05-02T00:00:00Z")
        );
        // Exactly at midnight: the following midnight, never `now` itself.
        assert_eq!(
            next_budget_reset(d, at("2024-05-01T00:00:00Z")),
            at("2024-05-02T00:00:00Z")
        );
        // Year boundary.
        assert_eq!(
            next_budget_reset(d, at("2024-12-31T23:59:59.999Z")),
            at("2025-01-01T00:00:00Z")
        );
    }

    #[test]
    fn weekly_budget_resets_next_monday() {
        let d = parse_duration("7d").unwrap();
        // 2024-05-01 is a Wednesday.
        assert_eq!(
            next_budget_reset(d, at("2024-05-01T08:00:00Z")),
            at("2024-05-06T00:00:00Z")
        );
        // Sunday night → the next day.
        assert_eq!(
            next_budget_reset(d, at("2024-05-05T23:00:00Z")),
            at("2024-05-06T00:00:00Z")
        );
        // On a Monday → a week on.
        assert_eq!(
            next_budget_reset(d, at("2024-05-06T00:00:00Z")),
            at("2024-05-13T00:00:00Z")
        );
        assert_eq!(
            next_budget_reset(parse_duration("1w").unwrap(), at("2024-05-01T08:00:00Z")),
            at("2024-05-06T00:00:00Z")
        );
    }

    #[test]
    fn monthly_budget_resets_on_the_first() {
        let d = Duration::Days(30);
        assert_eq!(
            next_budget_reset(d, at("2024-01-31T12:00:00Z")),
            at("2024-02-01T00:00:00Z")
        );
        assert_eq!(
            next_budget_reset(d, at("2024-12-15T00:00:00Z")),
            at("2025-01-01T00:00:00Z")
        );
        // On the 1st itself → the 1st of the next month.
        assert_eq!(
            next_budget_reset(d, at("2024-03-01T00:00:00Z")),
            at("2024-04-01T00:00:00Z")
        );
        assert_eq!(
            next_budget_reset(Duration::Months(3), at("2024-11-20T00:00:00Z")),
            at("2025-02-01T00:00:00Z")
        );
    }

    #[test]
    fn other_day_counts_reset_every_n_days_from_midnight() {
        assert_eq!(
            next_budget_reset(Duration::Days(3), at("2024-05-01T18:00:00Z")),
            at("2024-05-04T00:00:00Z")
        );
        assert_eq!(
            next_budget_reset(Duration::Days(14), at("2024-05-01T00:00:00Z")),
            at("2024-05-15T00:00:00Z")
        );
    }

    #[test]
    fn hour_minute_second_boundaries() {
        let now = at("2024-05-01T13:45:10Z");
        assert_eq!(
            next_budget_reset(Duration::Hours(1), now),
            at("2024-05-01T14:00:00Z")
        );
        assert_eq!(
            next_budget_reset(Duration::Hours(6), now),
            at("2024-05-01T18:00:00Z")
        );
        // 5h steps from midnight: 15:00; 10h steps would be 20:00; 30h caps at midnight.
        assert_eq!(
            next_budget_reset(Duration::Hours(5), now),
            at("2024-05-01T15:00:00Z")
        );
        assert_eq!(
            next_budget_reset(Duration::Hours(30), now),
            at("2024-05-02T00:00:00Z")
        );
        assert_eq!(
            next_budget_reset(Duration::Minutes(15), now),
            at("2024-05-01T14:00:00Z")
        );
        assert_eq!(
            next_budget_reset(Duration::Minutes(1), now),
            at("2024-05-01T13:46:00Z")
        );
        assert_eq!(next_budget_reset(Duration::Seconds(30), now), now + 30_000);
        // Exactly on a boundary: the next one.
        assert_eq!(
            next_budget_reset(Duration::Hours(1), at("2024-05-01T14:00:00Z")),
            at("2024-05-01T15:00:00Z")
        );
    }

    #[test]
    fn iso_round_trip_and_offsets() {
        let t = at("2024-05-01T12:34:56.789Z");
        assert_eq!(format_iso(t), "2024-05-01T12:34:56.789+00:00");
        assert_eq!(parse_iso(&format_iso(t)), Ok(t));
        assert_eq!(at("2024-05-01T14:34:56.789+02:00"), t);
        assert_eq!(at("2024-05-01 12:34:56.789123"), t);
        assert_eq!(at("2024-05-01"), at("2024-05-01T00:00:00Z"));
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(format_date(t), "2024-05-01");
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "yesterday",
            "2024-05-01X10:00",
            "2024-05-01T25:00",
        ] {
            assert!(parse_iso(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weekday_and_civil_dates() {
        assert_eq!(weekday_monday0(0), 3); // 1970-01-01, a Thursday
        let day = days_from_civil(2024, 2, 29);
        assert_eq!(civil_from_days(day), (2024, 2, 29));
        assert_eq!(weekday_monday0(day), 3); // a Thursday too
    }

    #[test]
    fn python_float_form() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.5), "0.5");
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(0.000123), "0.000123");
    }
}
