//! What an agent types, as a safe PostgreSQL `tsquery` (I2), with the same meaning as the
//! SQLite backend's FTS5 query: every word must match, as a prefix.

/// A `to_tsquery('simple', …)` text for the words of `input`: `'word':* & 'other':*`. Words
/// are the runs of letters and digits, so no quote, operator (`& | ! ( ) : * <->`) or
/// backslash the agent typed can reach the query syntax; each word is quoted all the same.
/// `None` when there is no word.
pub(super) fn ts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("'{word}':*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_becomes_quoted_prefix_words() {
        assert_eq!(
            ts_query("ada@example.com ship").as_deref(),
            Some("'ada':* & 'example':* & 'com':* & 'ship':*")
        );
        assert_eq!(
            ts_query("'' | !(x) <-> y:* \\").as_deref(),
            Some("'x':* & 'y':*")
        );
        assert_eq!(ts_query(" ,;!? "), None);
        assert_eq!(ts_query("Müller").as_deref(), Some("'Müller':*"));
    }
}
