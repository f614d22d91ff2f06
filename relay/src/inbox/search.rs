//! The inbox list's paging cursor (I2). (What an agent types becomes a full-text query in each
//! storage backend.)

use natter_protocol::UnixMillis;

/// The cursor after a row: `<last_activity_at>_<id>`.
pub fn cursor(last_activity_at: UnixMillis, id: &str) -> String {
    format!("{last_activity_at}_{id}")
}

/// Parses a cursor made by [`cursor`].
pub fn parse_cursor(cursor: &str) -> Option<(UnixMillis, String)> {
    let (at, id) = cursor.split_once('_')?;
    let at = at.parse().ok()?;
    uuid::Uuid::parse_str(id).ok()?;
    Some((at, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let id = "6f1c4e8a-0000-4000-8000-000000000001";
        assert_eq!(parse_cursor(&cursor(42, id)), Some((42, id.to_owned())));
        assert_eq!(parse_cursor("42"), None);
        assert_eq!(parse_cursor("x_6f1c4e8a-0000-4000-8000-000000000001"), None);
        assert_eq!(parse_cursor("42_'; DROP TABLE"), None);
    }
}
