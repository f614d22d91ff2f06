//! Turning the relay's timestamps (Unix milliseconds, UTC) into what an agent reads.
//!
//! The list shows a short relative age ("now", "5 min", "2 h", "3 d") that must keep ticking
//! while the page stays open, so [`relative`] is a pure function of "now" and the App feeds it a
//! clock signal. Messages show the local wall-clock time, with the date once it is not today.

use natter_protocol::UnixMillis;

use crate::strings;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The current time as the browser knows it.
pub fn now() -> UnixMillis {
    js_sys::Date::now() as UnixMillis
}

/// A short age for the conversation list. Timestamps in the future (clock skew between the
/// browser and the relay) count as "now".
pub fn relative(now: UnixMillis, then: UnixMillis) -> String {
    let age = now.saturating_sub(then);
    if age < MINUTE {
        strings::JUST_NOW.to_owned()
    } else if age < HOUR {
        strings::minutes_ago(age / MINUTE)
    } else if age < DAY {
        strings::hours_ago(age / HOUR)
    } else {
        strings::days_ago(age / DAY)
    }
}

/// Local wall-clock time of a message, e.g. "14:05", or "12 Mar, 14:05" when it is not from
/// today.
pub fn clock(at: UnixMillis) -> String {
    let date = js_sys::Date::new(&(at as f64).into());
    let time = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    let today = js_sys::Date::new_0();
    let same_day = date.get_full_year() == today.get_full_year()
        && date.get_month() == today.get_month()
        && date.get_date() == today.get_date();
    if same_day {
        time
    } else {
        let options = js_sys::Object::new();
        // Setting plain string properties on a fresh object cannot fail; ignore the Result.
        let _ = js_sys::Reflect::set(&options, &"day".into(), &"numeric".into());
        let _ = js_sys::Reflect::set(&options, &"month".into(), &"short".into());
        let day: String = date.to_locale_date_string("en-GB", &options).into();
        format!("{day}, {time}")
    }
}

/// The machine-readable form for `<time datetime="…">`.
pub fn iso(at: UnixMillis) -> String {
    js_sys::Date::new(&(at as f64).into())
        .to_iso_string()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_ages_use_the_largest_whole_unit() {
        let now = 10 * DAY;
        assert_eq!(relative(now, now), "now");
        assert_eq!(relative(now, now - 59_999), "now");
        assert_eq!(relative(now, now + 5 * MINUTE), "now");
        assert_eq!(relative(now, now - 5 * MINUTE), "5 min");
        assert_eq!(relative(now, now - 2 * HOUR - 3 * MINUTE), "2 h");
        assert_eq!(relative(now, now - 3 * DAY), "3 d");
    }
}
