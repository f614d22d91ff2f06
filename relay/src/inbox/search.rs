//! Turning what an agent types into a safe full-text query, and the list's paging cursor (I2).

use natter_protocol::UnixMillis;

/// An FTS5 query for the words of `input`: every word must match, as a prefix. Quotes,
/// operators and column filters typed by the agent are treated as plain text (each word is
/// quoted), so no input can produce an FTS syntax error. `None` when there is no word.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{word}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

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
    fn typed_text_becomes_quoted_prefix_words() {
        assert_eq!(
            fts_query("ada@example.com ship").as_deref(),
            Some("\"ada\"* \"example\"* \"com\"* \"ship\"*")
        );
        assert_eq!(
            fts_query("\"\" OR NEAR(* -:").as_deref(),
            Some("\"OR\"* \"NEAR\"*")
        );
        assert_eq!(fts_query(" ,;!? "), None);
        assert_eq!(fts_query("Müller").as_deref(), Some("\"Müller\"*"));
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let id = "6f1c4e8a-0000-4000-8000-000000000001";
        assert_eq!(parse_cursor(&cursor(42, id)), Some((42, id.to_owned())));
        assert_eq!(parse_cursor("42"), None);
        assert_eq!(parse_cursor("x_6f1c4e8a-0000-4000-8000-000000000001"), None);
        assert_eq!(parse_cursor("42_'; DROP TABLE"), None);
    }
}
