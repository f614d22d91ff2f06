//! Attachment rules as the front-ends apply them, and file sizes as people read them: one
//! implementation, so the widget and the console say the same thing the same way and the widget
//! refuses exactly what the relay would (W8, I13).
//!
//! Plain functions over [`AttachmentRules`] (what the relay sends in the welcome) and numbers;
//! no I/O, so they run natively in tests and in both wasm front-ends. The checks are
//! `#[inline]` so they are compiled in the calling crate: the string searching they use then
//! shares the caller's own copies of those generic functions instead of adding a second set to
//! the widget's wasm (its size budget).

use crate::visitor::AttachmentRules;

/// Most files on one message when the relay does not say ([`AttachmentRules::max_files`] is
/// absent from relays older than that field): the relay's default limit.
pub const DEFAULT_MAX_FILES: usize = 10;

/// Why a file is not even uploaded: the relay would refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its type is not on the site's allow-list (or the browser could not tell its type).
    TypeNotAllowed,
    /// It is larger than the relay's limit.
    TooLarge,
    /// An empty file: the relay refuses those too.
    Empty,
}

/// The media type of a `Content-Type` value without its parameters: `text/plain` for
/// `text/plain; charset=utf-8`. Empty when there is none.
#[inline]
pub fn base_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// Whether `content_type` (parameters allowed) is on the allow-list, ignoring case as media
/// types do. An unknown (empty) type never is.
#[inline]
pub fn type_allowed(allowed: &[String], content_type: &str) -> bool {
    let content_type = base_type(content_type);
    !content_type.is_empty()
        && allowed
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(content_type))
}

/// Checks a file against the relay's rules, in the relay's order: the type first (a smaller
/// file would not help), then the size limit (inclusive), then emptiness.
#[inline]
pub fn check(size: u64, content_type: &str, rules: &AttachmentRules) -> Result<(), Refusal> {
    if !type_allowed(&rules.allowed_types, content_type) {
        return Err(Refusal::TypeNotAllowed);
    }
    if size > rules.max_bytes {
        return Err(Refusal::TooLarge);
    }
    if size == 0 {
        return Err(Refusal::Empty);
    }
    Ok(())
}

/// Most files on one message: the relay's limit, or its default from a relay that does not say.
pub fn max_files(rules: &AttachmentRules) -> usize {
    rules.max_files.unwrap_or(DEFAULT_MAX_FILES)
}

/// The words of a file size in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeUnits<'a> {
    pub bytes: &'a str,
    pub kb: &'a str,
    pub mb: &'a str,
    /// Between the whole megabytes and the tenth: "." in English, "," in German and French.
    pub decimal_separator: &'a str,
}

impl SizeUnits<'static> {
    /// The console's and the relay's messages' words.
    pub const ENGLISH: Self = Self {
        bytes: "bytes",
        kb: "KB",
        mb: "MB",
        decimal_separator: ".",
    };
}

/// "10 MB", "2.4 MB", "300 KB", "12 bytes". Binary units, as the relay's own messages use.
/// Megabytes to a tenth (whole from 10 MB, where the tenth no longer matters), rounded to the
/// nearest; kilobytes rounded up, so a file is never said to be smaller than it is.
pub fn format_size(bytes: u64, units: &SizeUnits) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes >= MB {
        // bytes * 10 could overflow; whole megabytes and the remainder cannot.
        let tenths = bytes / MB * 10 + (bytes % MB * 10 + MB / 2) / MB;
        if tenths.is_multiple_of(10) || tenths >= 100 {
            format!("{} {}", (tenths + 5) / 10, units.mb)
        } else {
            format!(
                "{}{}{} {}",
                tenths / 10,
                units.decimal_separator,
                tenths % 10,
                units.mb
            )
        }
    } else if bytes >= KB {
        format!("{} {}", bytes.div_ceil(KB), units.kb)
    } else {
        format!("{bytes} {}", units.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;

    fn rules(max_bytes: u64) -> AttachmentRules {
        AttachmentRules {
            max_bytes,
            allowed_types: vec!["image/png".into(), "application/pdf".into()],
            max_files: None,
        }
    }

    fn english(bytes: u64) -> String {
        format_size(bytes, &SizeUnits::ENGLISH)
    }

    /// Moved with `check` from the widget's `upload` module.
    #[test]
    fn files_are_checked_like_the_relay_checks_them() {
        let rules = || rules(1_000);
        assert_eq!(check(10, "image/png", &rules()), Ok(()));
        assert_eq!(check(10, "IMAGE/PNG", &rules()), Ok(()));
        assert_eq!(check(1_000, "application/pdf", &rules()), Ok(()));
        assert_eq!(check(1_001, "image/png", &rules()), Err(Refusal::TooLarge));
        assert_eq!(
            check(10, "application/x-msdownload", &rules()),
            Err(Refusal::TypeNotAllowed)
        );
        assert_eq!(
            check(10, "", &rules()),
            Err(Refusal::TypeNotAllowed),
            "a type the browser does not know is not allowed"
        );
        assert_eq!(
            check(5_000, "video/mp4", &rules()),
            Err(Refusal::TypeNotAllowed),
            "the type is named first: a smaller file would not help"
        );
        assert_eq!(check(0, "image/png", &rules()), Err(Refusal::Empty));
    }

    /// Moved with the size formatting from the console's `strings` module.
    #[test]
    fn file_sizes_read_like_the_relays_limits() {
        assert_eq!(english(10 * 1024 * 1024), "10 MB");
        assert_eq!(english(2_500_000), "2.4 MB");
        assert_eq!(english(300 * 1024), "300 KB");
        assert_eq!(english(12), "12 bytes");
    }

    #[test]
    fn the_size_limit_is_inclusive() {
        assert_eq!(check(999, "image/png", &rules(1_000)), Ok(()));
        assert_eq!(check(1_000, "application/pdf", &rules(1_000)), Ok(()));
        assert_eq!(
            check(1_001, "image/png", &rules(1_000)),
            Err(Refusal::TooLarge)
        );
        assert_eq!(
            check(u64::MAX, "image/png", &rules(1_000)),
            Err(Refusal::TooLarge)
        );
        assert_eq!(check(u64::MAX, "image/png", &rules(u64::MAX)), Ok(()));
    }

    #[test]
    fn empty_files_are_refused_and_one_byte_is_enough() {
        assert_eq!(check(0, "image/png", &rules(1_000)), Err(Refusal::Empty));
        assert_eq!(check(1, "image/png", &rules(1_000)), Ok(()));
        // Even when the limit is zero: "empty" is the refusal that says what is wrong.
        assert_eq!(check(0, "image/png", &rules(0)), Err(Refusal::Empty));
        assert_eq!(check(1, "image/png", &rules(0)), Err(Refusal::TooLarge));
    }

    #[test]
    fn types_are_matched_without_case_or_parameters() {
        for allowed in [
            "image/png",
            "IMAGE/PNG",
            "Image/Png",
            " image/png ",
            "image/png; name=a.png",
            "image/png;",
        ] {
            assert_eq!(check(10, allowed, &rules(1_000)), Ok(()), "{allowed}");
        }
        for refused in [
            "application/x-msdownload",
            "image/pngx",
            "image/pn",
            "image",
            "png",
            "image/*",
            "x; image/png",
        ] {
            assert_eq!(
                check(10, refused, &rules(1_000)),
                Err(Refusal::TypeNotAllowed),
                "{refused}"
            );
        }
    }

    #[test]
    fn an_unknown_type_is_never_allowed() {
        for unknown in ["", " ", ";", "; charset=utf-8"] {
            assert_eq!(
                check(10, unknown, &rules(1_000)),
                Err(Refusal::TypeNotAllowed),
                "a type the browser does not know is not allowed: {unknown:?}"
            );
        }
        // Not even by an allow-list entry that is blank.
        assert!(!type_allowed(&[String::new()], ""));
        assert!(!type_allowed(&[], "image/png"));
    }

    #[test]
    fn the_type_is_named_before_the_size_and_emptiness() {
        assert_eq!(
            check(5_000, "video/mp4", &rules(1_000)),
            Err(Refusal::TypeNotAllowed),
            "the type is named first: a smaller file would not help"
        );
        assert_eq!(
            check(0, "video/mp4", &rules(1_000)),
            Err(Refusal::TypeNotAllowed)
        );
    }

    #[test]
    fn base_types_drop_parameters_and_spaces() {
        assert_eq!(base_type("text/plain; charset=utf-8"), "text/plain");
        assert_eq!(base_type("  text/plain  "), "text/plain");
        assert_eq!(base_type(""), "");
        assert_eq!(base_type(";a=b"), "");
    }

    #[test]
    fn the_files_limit_is_the_relays_or_its_default() {
        let mut rules = rules(1_000);
        assert_eq!(max_files(&rules), DEFAULT_MAX_FILES);
        rules.max_files = Some(3);
        assert_eq!(max_files(&rules), 3);
        rules.max_files = Some(0);
        assert_eq!(max_files(&rules), 0);
    }

    #[test]
    fn bytes_below_a_kilobyte() {
        assert_eq!(english(0), "0 bytes");
        assert_eq!(english(1), "1 bytes");
        assert_eq!(english(12), "12 bytes");
        assert_eq!(english(KB - 1), "1023 bytes");
    }

    #[test]
    fn kilobytes_round_up_below_a_megabyte() {
        assert_eq!(english(KB), "1 KB");
        assert_eq!(english(KB + 1), "2 KB");
        assert_eq!(english(1025), "2 KB");
        assert_eq!(english(300 * KB), "300 KB");
        assert_eq!(english(200 * KB), "200 KB");
        // Just under a megabyte is still counted in (rounded-up) kilobytes.
        assert_eq!(english(MB - 1), "1024 KB");
    }

    #[test]
    fn megabytes_to_a_tenth_below_ten() {
        assert_eq!(english(MB), "1 MB");
        assert_eq!(english(MB + 1), "1 MB");
        // The tenth rounds to the nearest, half up: half a tenth is 52,428.8 bytes.
        assert_eq!(english(MB + 52_428), "1 MB");
        assert_eq!(english(MB + 52_429), "1.1 MB");
        assert_eq!(english(2_500_000), "2.4 MB");
        assert_eq!(english(9 * MB + 9 * MB / 10), "9.9 MB");
        // From 9.95 MB (9 MB and 996,147.2 bytes) it rounds to 10 MB, said whole.
        assert_eq!(english(9 * MB + 996_147), "9.9 MB");
        assert_eq!(english(9 * MB + 996_148), "10 MB");
    }

    #[test]
    fn whole_megabytes_from_ten() {
        assert_eq!(english(10 * MB), "10 MB");
        assert_eq!(english(24 * MB + 10), "24 MB");
        assert_eq!(english(10 * MB + 4 * MB / 10), "10 MB");
        assert_eq!(english(10 * MB + MB / 2), "11 MB");
        assert_eq!(english(1024 * MB), "1024 MB");
    }

    #[test]
    fn the_largest_sizes_do_not_overflow() {
        assert_eq!(english(u64::MAX), "17592186044416 MB");
        assert_eq!(english(u64::MAX / 10 + 1), "1759218604442 MB");
    }

    #[test]
    fn units_and_the_decimal_separator_are_the_callers() {
        let french = SizeUnits {
            bytes: "octets",
            kb: "Ko",
            mb: "Mo",
            decimal_separator: ",",
        };
        assert_eq!(format_size(2_500_000, &french), "2,4 Mo");
        assert_eq!(format_size(10 * MB, &french), "10 Mo");
        assert_eq!(format_size(2 * KB, &french), "2 Ko");
        assert_eq!(format_size(12, &french), "12 octets");
    }
}
