//! Fuzz targets (S4, issue 15): everything that reads bytes a stranger controls.
//!
//! Each target is a `bolero` check. Under `cargo test` (the README's test command) bolero
//! replays the checked-in corpus (`__fuzz__/<target>/corpus/`, plus any `crashes/`) and then
//! runs random inputs for [`fuzz_time`]; `cargo bolero test <target> -e libfuzzer` runs the
//! same target coverage-guided for as long as one likes. A target fails on a panic or on a
//! broken property (a link that is not safe, a file name with a path in it, a text over its
//! limit); a crash found is kept as a file in `corpus/` so it stays a regression test.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use natter_protocol::agent::{AgentServerFrame, LoginRequest, SendReply};
use natter_protocol::markdown::{self, Inline};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_relay::attachments::clean_name;
use natter_relay::config::Config;
use natter_relay::mail::html_text::html_to_text;
use natter_relay::mail::parse::{parse, ParseLimits};
use natter_relay::mail::quotes::visible_text;

/// Random inputs per target after the corpus, in seconds: `NATTER_FUZZ_SECONDS`, default 4
/// (nine targets, well under a minute of the test command; longer runs are for a session
/// that hunts).
fn fuzz_time() -> Duration {
    let seconds = std::env::var("NATTER_FUZZ_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(4);
    Duration::from_secs(seconds)
}

/// Inputs longer than this are cut: frames are at most 64 KiB on the socket, and longer
/// random inputs only slow the search down.
const MAX_INPUT: usize = 70 * 1024;

/// The relay decodes every widget frame with this (gateway/frames.rs).
#[test]
fn visitor_client_frame() {
    bolero::check!(name = "visitor_client_frame")
        .with_test_time(fuzz_time())
        .with_max_len(MAX_INPUT)
        .for_each(|bytes: &[u8]| {
            round_trips::<ClientFrame>(bytes);
            round_trips::<ClientFrame>(&mutated_seed("visitor_client_frame", bytes));
        });
}

/// The widget decodes every relay frame with this.
#[test]
fn visitor_server_frame() {
    bolero::check!(name = "visitor_server_frame")
        .with_test_time(fuzz_time())
        .with_max_len(MAX_INPUT)
        .for_each(|bytes: &[u8]| {
            // The hand-written one-pass reader must agree with the derived writer.
            round_trips::<ServerFrame>(bytes);
            round_trips::<ServerFrame>(&mutated_seed("visitor_server_frame", bytes));
        });
}

/// The console decodes every agent-socket frame with this; the relay decodes the agent API's
/// request bodies (a reply, a login) with the others.
#[test]
fn agent_frames_and_requests() {
    bolero::check!(name = "agent_frames_and_requests")
        .with_test_time(fuzz_time())
        .with_max_len(MAX_INPUT)
        .for_each(|bytes: &[u8]| {
            for bytes in [bytes, &mutated_seed("agent_frames_and_requests", bytes)] {
                round_trips::<AgentServerFrame>(bytes);
                round_trips::<SendReply>(bytes);
                round_trips::<LoginRequest>(bytes);
            }
        });
}

/// The checked-in corpus of a target, read once per process.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    static SEEDS: OnceLock<Mutex<HashMap<String, Vec<Vec<u8>>>>> = OnceLock::new();
    let mut cache = SEEDS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    cache
        .entry(target.to_owned())
        .or_insert_with(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/__fuzz__")
                .join(target)
                .join("corpus");
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
        })
        .clone()
}

/// Random bytes rarely make valid JSON or MIME, so each input also picks a seed of the
/// target's corpus and edits it: the input's bytes are read as (position, operation, byte)
/// triples — overwrite, insert, delete, or copy a run elsewhere. This keeps most random cases
/// inside the decoders' deep paths (a field of the wrong type, a cut string, a duplicated key,
/// a broken boundary) instead of at the first byte.
fn mutated_seed(target: &str, input: &[u8]) -> Vec<u8> {
    let seeds = seeds(target);
    let Some((&pick, edits)) = input.split_first() else {
        return Vec::new();
    };
    let Some(seed) = seeds.get(usize::from(pick) % seeds.len().max(1)) else {
        return Vec::new();
    };
    let mut out = seed.clone();
    for edit in edits.chunks_exact(4) {
        let position = usize::from(u16::from_le_bytes([edit[0], edit[1]]));
        let at = if out.is_empty() {
            0
        } else {
            position % out.len()
        };
        match edit[2] % 4 {
            0 if !out.is_empty() => out[at] = edit[3],
            1 => out.insert(at, edit[3]),
            2 if !out.is_empty() => {
                let end = (at + usize::from(edit[3] % 16) + 1).min(out.len());
                out.drain(at..end);
            }
            _ => {
                let end = (at + usize::from(edit[3]) + 1).min(out.len());
                let run = out[at..end].to_vec();
                let to = position.rotate_left(7) % (out.len() + 1);
                out.splice(to..to, run);
            }
        }
    }
    out
}

/// Decoding never panics, and whatever decodes is written and read back unchanged.
fn round_trips<T>(bytes: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(bytes) else {
        return;
    };
    let written = serde_json::to_vec(&value).expect("a decoded value serializes");
    let read_back: T = serde_json::from_slice(&written).expect("what was written reads back");
    assert_eq!(read_back, value);
}

/// The safe Markdown subset (I13, S5): never a panic, and every link it makes is one a
/// browser may follow.
#[test]
fn markdown() {
    bolero::check!(name = "markdown")
        .with_test_time(fuzz_time())
        .with_max_len(MAX_INPUT)
        .for_each(|bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            assert_links_are_safe(&markdown::parse(&text));
        });
}

fn assert_links_are_safe(nodes: &[Inline]) {
    for node in nodes {
        match node {
            Inline::Link { href, children } => {
                assert!(markdown::safe_href(href), "unsafe link {href:?}");
                assert_links_are_safe(children);
            }
            Inline::Bold(children) | Inline::Italic(children) => assert_links_are_safe(children),
            Inline::Text(_) | Inline::LineBreak => {}
        }
    }
}

/// `natter.toml`: a bad file is an error message, never a panic.
#[test]
fn config_toml() {
    bolero::check!(name = "config_toml")
        .with_test_time(fuzz_time())
        .with_max_len(16 * 1024)
        .for_each(|bytes: &[u8]| {
            for raw in [bytes, &mutated_seed("config_toml", bytes)] {
                if let Ok(text) = std::str::from_utf8(raw) {
                    let _ = Config::from_toml(text);
                }
            }
        });
}

/// Inbound email (E3): MIME, charsets, HTML-only mail, quotes. What comes out is within its
/// limits (file names are cleaned where the mail is stored, `file_names` covers that).
#[test]
fn inbound_mime() {
    let limits = ParseLimits {
        max_attachment_bytes: 4096,
        max_attachments: 3,
        max_text_chars: 500,
    };
    bolero::check!(name = "inbound_mime")
        .with_test_time(fuzz_time())
        .with_max_len(MAX_INPUT)
        .for_each(|bytes: &[u8]| {
            for raw in [bytes, &mutated_seed("inbound_mime", bytes)] {
                let Ok(mail) = parse(raw, &limits) else {
                    continue;
                };
                assert!(mail.text.chars().count() <= limits.max_text_chars);
                assert!(mail.attachments.len() <= limits.max_attachments);
                for attachment in &mail.attachments {
                    assert!(attachment.bytes.len() as u64 <= limits.max_attachment_bytes);
                }
            }
        });
}

/// The pieces of the inbound path on their own, where a short input reaches deeper.
#[test]
fn html_and_quotes() {
    bolero::check!(name = "html_and_quotes")
        .with_test_time(fuzz_time())
        .with_max_len(MAX_INPUT)
        .for_each(|bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            let _ = html_to_text(&text);
            let _ = visible_text(&text);
        });
}

/// Upload and email file names (S5): the name shown is a name, never a path or a trick.
#[test]
fn file_names() {
    bolero::check!(name = "file_names")
        .with_test_time(fuzz_time())
        .with_max_len(4096)
        .for_each(|bytes: &[u8]| {
            assert_clean_file_name(&clean_name(&String::from_utf8_lossy(bytes)));
        });
}

fn assert_clean_file_name(name: &str) {
    assert!(!name.contains(['/', '\\']), "a path in {name:?}");
    assert!(
        !name.chars().any(is_bidi_control),
        "a bidi control in {name:?}"
    );
}

/// The characters that reorder text (Unicode's Bidi_Control property).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
