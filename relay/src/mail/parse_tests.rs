//! The mail corpus: every `relay/tests/mail-corpus/NN-name.eml` is parsed and compared with
//! `NN-name.expected.txt` (the exact visible text; one trailing newline of the file is
//! ignored) and with the row of [`EXPECTATIONS`] named after it (kind, sender, attachments …).
//! A file without a row must parse as a person's message without attachments, so a new file is
//! tested as soon as it is added. All mismatches are listed before the test fails.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{parse, InboundMail, MailKind, ParseError, ParseLimits};

/// The limits the corpus is written against.
const LIMITS: ParseLimits = ParseLimits {
    max_attachment_bytes: 8192,
    max_attachments: 3,
    max_text_chars: 1500,
};

/// What a corpus file must give besides its text.
struct Expect {
    file: &'static str,
    /// `Err(…)` for files that must be refused.
    error: Option<ParseError>,
    /// `message`, `auto-reply` or `bounce:<failed,…>`.
    kind: &'static str,
    from: Option<&'static str>,
    from_name: Option<&'static str>,
    subject: Option<&'static str>,
    message_id: Option<&'static str>,
    /// Checked when not empty.
    recipients: &'static [&'static str],
    /// Checked when not empty.
    in_reply_to: &'static [&'static str],
    sent_at: Option<i64>,
    /// `name (content/type)`.
    attachments: &'static [&'static str],
    dropped: &'static [&'static str],
}

const DEFAULT: Expect = Expect {
    file: "",
    error: None,
    kind: "message",
    from: None,
    from_name: None,
    subject: None,
    message_id: None,
    recipients: &[],
    in_reply_to: &[],
    sent_at: None,
    attachments: &[],
    dropped: &[],
};

const EXPECTATIONS: &[Expect] = &[
    Expect {
        file: "01-gmail-alternative",
        from: Some("Jane.Doe@gmail.com"),
        from_name: Some("Jane Doe"),
        message_id: Some("CAJx3kQ8v+ZQ1n2pE7rT0w=Kx9mUq@mail.gmail.com"),
        recipients: &["reply+c1f0a2b4@natter.example"],
        in_reply_to: &["conversation/c1f0a2b4/messages/41@natter.example"],
        sent_at: Some(1_741_083_362_000),
        ..DEFAULT
    },
    Expect {
        file: "02-outlook-desktop",
        from: Some("mark.fischer@contoso.example"),
        from_name: Some("Fischer, Mark"),
        ..DEFAULT
    },
    Expect {
        file: "04-outlook-german",
        from: Some("J.Weiss@firma.example"),
        from_name: Some("Jürgen Weiß"),
        subject: Some("AW: Upload schlägt fehl"),
        ..DEFAULT
    },
    Expect {
        file: "05-outlook-french",
        subject: Some("RE\u{a0}: Problème de connexion"),
        ..DEFAULT
    },
    Expect {
        file: "10-french-client",
        from_name: Some("Élodie Martin"),
        subject: Some("Re: Réservation"),
        ..DEFAULT
    },
    Expect {
        file: "13-attachments-pdf-image",
        attachments: &[
            "invoice-2025-03.pdf (application/pdf)",
            "screenshot.png (image/png)",
        ],
        ..DEFAULT
    },
    Expect {
        file: "14-attachment-too-large",
        attachments: &["notes.txt (text/plain)"],
        dropped: &["server-log.zip"],
        ..DEFAULT
    },
    Expect {
        file: "15-too-many-attachments",
        attachments: &[
            "Rechnung März.pdf (application/pdf)",
            "passwd (text/plain)",
            "photo-3.jpg (image/jpeg)",
        ],
        dropped: &["photo-4.jpg"],
        ..DEFAULT
    },
    Expect {
        file: "16-encoded-words",
        from: Some("jm@example.de"),
        from_name: Some("Jürgen Müller"),
        subject: Some("Re: Günstiger Tarif – Frage"),
        ..DEFAULT
    },
    Expect {
        file: "17-auto-submitted",
        kind: "auto-reply",
        ..DEFAULT
    },
    Expect {
        file: "18-out-of-office-exchange",
        kind: "auto-reply",
        ..DEFAULT
    },
    Expect {
        file: "19-bounce-dsn-postfix",
        kind: "bounce:gone@example.org",
        from: Some("MAILER-DAEMON@mail.natter.example"),
        ..DEFAULT
    },
    Expect {
        file: "20-spoofed-from",
        from: Some("billing@acme.example"),
        from_name: Some("ACME Billing"),
        ..DEFAULT
    },
    Expect {
        file: "21-duplicate-message-id",
        message_id: Some("CAJx3kQ8v+ZQ1n2pE7rT0w=Kx9mUq@mail.gmail.com"),
        ..DEFAULT
    },
    Expect {
        file: "22-malformed-garbage",
        error: Some(ParseError::NotAMessage),
        ..DEFAULT
    },
    Expect {
        file: "23-attachment-only",
        attachments: &["scan.pdf (application/pdf)"],
        ..DEFAULT
    },
    Expect {
        file: "28-no-sender",
        error: Some(ParseError::NoSender),
        ..DEFAULT
    },
    Expect {
        file: "31-mailer-daemon-exim",
        kind: "bounce:nobody@example.net",
        ..DEFAULT
    },
    Expect {
        file: "32-outlook-word-html",
        from_name: Some("Stefan Krüger"),
        ..DEFAULT
    },
    Expect {
        file: "34-x-autoreply",
        kind: "auto-reply",
        ..DEFAULT
    },
    Expect {
        file: "35-dsn-delayed",
        kind: "auto-reply",
        ..DEFAULT
    },
    Expect {
        file: "37-apple-inline-image",
        attachments: &["IMG_0042.jpeg (image/jpeg)"],
        ..DEFAULT
    },
    Expect {
        file: "38-forward-as-attachment",
        attachments: &["attachment-1.eml (message/rfc822)"],
        ..DEFAULT
    },
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail-corpus")
}

fn kind_label(kind: &MailKind) -> String {
    match kind {
        MailKind::Message => "message".to_string(),
        MailKind::AutoReply => "auto-reply".to_string(),
        MailKind::Bounce { failed_recipients } => format!("bounce:{}", failed_recipients.join(",")),
    }
}

/// Appends `field: expected … got …` to `problems` when they differ.
fn check<T: PartialEq + std::fmt::Debug>(problems: &mut Vec<String>, field: &str, want: T, got: T) {
    if want != got {
        problems.push(format!("{field}: expected {want:?}, got {got:?}"));
    }
}

/// The mismatches of one parsed file.
fn check_mail(stem: &str, expect: &Expect, mail: &InboundMail) -> Vec<String> {
    let mut problems = Vec::new();
    match std::fs::read_to_string(corpus_dir().join(format!("{stem}.expected.txt"))) {
        Ok(text) => {
            let want = text.strip_suffix('\n').unwrap_or(&text);
            check(&mut problems, "text", want, mail.text.as_str());
        }
        Err(e) => problems.push(format!(
            "no {stem}.expected.txt ({e}); got text {:?}",
            mail.text
        )),
    }
    check(
        &mut problems,
        "kind",
        expect.kind.to_string(),
        kind_label(&mail.kind),
    );
    let from = mail.from.as_ref();
    if let Some(want) = expect.from {
        check(
            &mut problems,
            "from",
            Some(want),
            from.map(|f| f.address.as_str()),
        );
    }
    if let Some(want) = expect.from_name {
        check(
            &mut problems,
            "from name",
            Some(want),
            from.and_then(|f| f.name.as_deref()),
        );
    }
    if let Some(want) = expect.subject {
        check(
            &mut problems,
            "subject",
            Some(want),
            mail.subject.as_deref(),
        );
    }
    if let Some(want) = expect.message_id {
        check(
            &mut problems,
            "message id",
            Some(want),
            mail.message_id.as_deref(),
        );
    }
    let strs = |v: &[String]| v.iter().map(String::clone).collect::<Vec<_>>();
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if !expect.recipients.is_empty() {
        check(
            &mut problems,
            "recipients",
            owned(expect.recipients),
            strs(&mail.recipients),
        );
    }
    if !expect.in_reply_to.is_empty() {
        check(
            &mut problems,
            "in-reply-to",
            owned(expect.in_reply_to),
            strs(&mail.in_reply_to),
        );
    }
    if expect.sent_at.is_some() {
        check(&mut problems, "sent at", expect.sent_at, mail.sent_at);
    }
    let attachments: Vec<String> = mail
        .attachments
        .iter()
        .map(|a| format!("{} ({})", a.file_name, a.content_type))
        .collect();
    check(
        &mut problems,
        "attachments",
        expect.attachments.to_vec(),
        attachments.iter().map(String::as_str).collect(),
    );
    check(
        &mut problems,
        "dropped",
        expect.dropped.to_vec(),
        mail.dropped_attachments
            .iter()
            .map(String::as_str)
            .collect(),
    );
    problems
}

#[test]
fn mail_corpus() {
    let mut stems: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("the corpus directory exists")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".eml").map(str::to_string))
        .collect();
    stems.sort();
    let unknown_rows: Vec<&str> = EXPECTATIONS
        .iter()
        .map(|e| e.file)
        .filter(|f| !stems.iter().any(|s| s == f))
        .collect();
    assert!(
        unknown_rows.is_empty(),
        "table rows without a file: {unknown_rows:?}"
    );

    let mut report = String::new();
    let mut passed = 0;
    for stem in &stems {
        let raw = std::fs::read(corpus_dir().join(format!("{stem}.eml"))).expect("readable file");
        let expect = EXPECTATIONS
            .iter()
            .find(|e| e.file == stem)
            .unwrap_or(&DEFAULT);
        let problems = match (parse(&raw, &LIMITS), &expect.error) {
            (Ok(mail), None) => check_mail(stem, expect, &mail),
            (Err(got), Some(want)) if &got == want => Vec::new(),
            (Err(got), want) => vec![format!("expected {want:?}, got error {got:?}")],
            (Ok(mail), Some(want)) => vec![format!("expected error {want:?}, got {mail:?}")],
        };
        if problems.is_empty() {
            passed += 1;
        } else {
            let _ = writeln!(report, "{stem}:\n  {}", problems.join("\n  "));
        }
    }
    eprintln!("mail corpus: {} files, {passed} passed", stems.len());
    assert!(report.is_empty(), "mail corpus mismatches:\n{report}");
    assert!(
        stems.len() >= 28,
        "the corpus shrank to {} files",
        stems.len()
    );
}

#[test]
fn flowed_text_is_rejoined() {
    assert_eq!(
        super::unflow("a \nb\n>q \n>r\n-- \nsig", false),
        "a b\n>q \n>r\n-- \nsig"
    );
    assert_eq!(super::unflow("a \nb", true), "ab");
}

#[test]
fn text_is_capped_in_characters() {
    assert_eq!(super::cap_chars("äöü", 3), "äöü");
    assert_eq!(super::cap_chars("äöüß", 3), "äö…");
}

#[test]
fn empty_and_header_only_input() {
    assert_eq!(parse(b"", &LIMITS), Err(ParseError::NotAMessage));
    assert_eq!(parse(b"\r\n\r\n", &LIMITS), Err(ParseError::NotAMessage));
    let mail = parse(b"From: a@B.example\r\nSubject: hi\r\n\r\n", &LIMITS).expect("parses");
    assert_eq!(mail.text, "");
    assert_eq!(
        mail.from.map(|f| f.address),
        Some("a@b.example".to_string())
    );
}

#[test]
fn recipients_are_lower_cased_and_deduplicated() {
    let raw = b"From: a@b.example\r\nTo: X <Reply+Ab@Natter.Example>, c@d.example\r\nCc: reply+ab@natter.example\r\nDelivered-To: reply+ab@natter.example\r\nX-Original-To: <other@natter.example>\r\n\r\nhi\r\n";
    let mail = parse(raw, &LIMITS).expect("parses");
    assert_eq!(
        mail.recipients,
        [
            "reply+ab@natter.example",
            "c@d.example",
            "other@natter.example"
        ]
    );
}
