//! Timestamps as text: ISO 8601 in UTC with milliseconds and `Z`, exactly as JS
//! `Date.prototype.toISOString()` writes them (`2026-05-01T12:00:00.000Z`). Text in this one
//! format sorts in time order, so a store can compare and index it as text.

/// The ISO 8601 text of `ms` milliseconds since the Unix epoch (negative: before 1970), as
/// `new Date(ms).toISOString()` gives it: years 0–9999 with four digits, others as a sign and
/// six digits.
///
/// ```
/// use stowage_core::engine::time::iso_from_ms;
/// assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(iso_from_ms(1_709_164_800_123), "2024-02-29T00:00:00.123Z");
/// ```
pub fn iso_from_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The milliseconds since the epoch of text in exactly the form [`iso_from_ms`] writes for
/// years 0–9999 (`2026-05-01T12:00:00.000Z`); `None` for anything else, a day that does not
/// exist (`2023-02-29`) included.
///
/// ```
/// use stowage_core::engine::time::ms_from_iso;
/// assert_eq!(ms_from_iso("2024-02-29T00:00:00.123Z"), Some(1_709_164_800_123));
/// assert_eq!(ms_from_iso("2023-02-29T00:00:00.000Z"), None);
/// assert_eq!(ms_from_iso("2024-02-29 00:00:00"), None);
/// ```
pub fn ms_from_iso(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 24 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second, milli) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let ms = days_from_civil(year, month, day) * 86_400_000
        + ((hour * 60 + minute) * 60 + second) * 1000
        + milli;
    // A day past the month's end (the 30th of February) comes back as another date.
    (iso_from_ms(ms) == text).then_some(ms)
}

/// SQL for the current time as [`iso_from_ms`] writes it, from SQLite's clock: what a statement
/// stamps a row with when the time is taken inside it.
pub const NOW_ISO: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Milliseconds since the Unix epoch (JS `Date.now()`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Now, as [`iso_from_ms`] writes it.
pub fn now_iso() -> String {
    iso_from_ms(now_ms())
}

/// The (year, month, day) in UTC of the instant `ms` milliseconds after the epoch.
pub fn civil_from_ms(ms: i64) -> (i64, i64, i64) {
    civil_from_days(ms.div_euclid(86_400_000))
}

/// The milliseconds since the epoch of a UTC date and time of day; `None` for a date or time
/// that does not exist (the 30th of February, hour 24).
///
/// ```
/// use stowage_core::engine::time::ms_from_civil;
/// assert_eq!(ms_from_civil(2024, 2, 29, (0, 0, 0, 123)), Some(1_709_164_800_123));
/// assert_eq!(ms_from_civil(2023, 2, 29, (0, 0, 0, 0)), None);
/// ```
pub fn ms_from_civil(year: i64, month: i64, day: i64, time: (i64, i64, i64, i64)) -> Option<i64> {
    let (hour, minute, second, milli) = time;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..60).contains(&second)
        || !(0..1000).contains(&milli)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    (civil_from_days(days) == (year, month, day))
        .then(|| days * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + milli)
}

/// The proleptic Gregorian (year, month, day) of a day number counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`: eras of 400 years, each 146,097 days, years starting in March so
/// the leap day is last).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day number (from 1970-01-01) of a proleptic Gregorian date: the inverse of
/// [`civil_from_days`] for valid dates.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn matches_to_iso_string_at_known_instants() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
            (1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
            (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
            (-62_167_219_200_001, "-000001-12-31T23:59:59.999Z"),
            (8_640_000_000_000_000, "+275760-09-13T00:00:00.000Z"),
        ] {
            assert_eq!(iso_from_ms(ms), text, "{ms}");
        }
    }

    #[test]
    fn february_has_a_29th_exactly_in_leap_years() {
        // 1900 and 2100 are not leap years (divisible by 100), 2000 and 2400 are (by 400).
        for (year, leap) in [
            (1900, false),
            (1996, true),
            (2000, true),
            (2023, false),
            (2024, true),
            (2100, false),
            (2400, true),
        ] {
            let march_1 = count_days(year, 3, 1) * DAY;
            let day_before = iso_from_ms(march_1 - DAY);
            let expected = format!("{year}-02-{}T00:00:00.000Z", if leap { 29 } else { 28 });
            assert_eq!(day_before, expected);
        }
    }

    #[test]
    fn consecutive_days_read_in_order_over_four_centuries() {
        let start = count_days(1970, 1, 1);
        let mut previous = iso_from_ms(start * DAY);
        for day in start + 1..start + 146_097 {
            let text = iso_from_ms(day * DAY);
            assert!(text > previous, "{previous} then {text}");
            assert_eq!(ms_from_iso(&text), Some(day * DAY));
            previous = text;
        }
        assert_eq!(previous, "2369-12-31T00:00:00.000Z");
    }

    #[test]
    fn only_the_one_format_parses() {
        for text in [
            "2026-13-01T00:00:00.000Z",
            "2026-00-10T00:00:00.000Z",
            "2026-04-31T00:00:00.000Z",
            "2100-02-29T00:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T00:60:00.000Z",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.000+00:00",
            "2026-01-01 00:00:00.000Z",
            "+2026-01-01T00:00:00.000",
            "２026-01-01T00:00:00.000Z",
        ] {
            assert_eq!(ms_from_iso(text), None, "{text}");
        }
        assert_eq!(
            ms_from_iso("2000-02-29T23:59:59.999Z"),
            Some(951_868_799_999)
        );
    }

    /// The day number of a date, counted by hand (the oracle the tests check against).
    fn count_days(year: i64, month: i64, day: i64) -> i64 {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut days = 0;
        let year_days = |y: i64| if leap(y) { 366 } else { 365 };
        days += (1970..year).map(year_days).sum::<i64>();
        days -= (year..1970).map(year_days).sum::<i64>();
        for (m, len) in month_days.iter().enumerate().take(month as usize - 1) {
            days += len + i64::from(m == 1 && leap(year));
        }
        days + day - 1
    }
}
