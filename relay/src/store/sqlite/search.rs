//! What an agent types, as a safe SQLite FTS5 query (I2).

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
}
