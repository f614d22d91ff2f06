//! A site's look (W13) as CSS, served at `/widget/site/<key>.css`.
//!
//! The loader links this stylesheet into its shadow root before it shows the launcher, so the
//! launcher has the site's colour, side and text before the app loads, without a flash of the
//! default look. The same sheet sets the custom properties the app's CSS reads on
//! `.natter-app` (`widget/src/style.rs`): the site colour and its foreground, the link and
//! focus colours, the panel's side and `color-scheme` (light, dark, or the visitor's system).
//!
//! Contrast (W12) holds for any site colour: the foreground on it is white or near-black,
//! whichever reaches WCAG's 4.5:1 (pure black when neither does; one of the two always does);
//! links and focus rings use the site colour darkened (light panel) or lightened (dark panel)
//! until it reaches 4.5:1 on every panel background.
//!
//! Rules that must beat the app's defaults use `:host .natter-app` (one pseudo-class more than
//! the app's `.natter-app`); launcher rules come after the loader's own `<style>` and so win at
//! equal specificity.

use std::fmt::Write;

use natter_protocol::visitor::{ColorMode, Position, Theme};

/// WCAG 2.x AA contrast for text (and so, with room to spare, for focus rings: 3:1).
const MIN_TEXT_CONTRAST: f64 = 4.5;
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
/// The panel's own text colour (`--text`, light): softer than black on light site colours.
const NEAR_BLACK: Rgb = Rgb(0x11, 0x18, 0x27);
const BLACK: Rgb = Rgb(0, 0, 0);
/// The panel's light backgrounds, `--bg` and `--surface` in `widget/src/style.rs`.
const LIGHT_BACKGROUNDS: [Rgb; 2] = [Rgb(0xff, 0xff, 0xff), Rgb(0xf8, 0xfa, 0xfc)];
/// The panel's dark backgrounds, `--bg` and `--surface` in `widget/src/style.rs`.
const DARK_BACKGROUNDS: [Rgb; 2] = [Rgb(0x1f, 0x29, 0x37), Rgb(0x11, 0x18, 0x27)];
/// The launcher's and the panel's distance from the viewport's side (as in the loader).
const SIDE_GAP: &str = "20px";
/// How far each step mixes the site colour toward black or white when looking for a link
/// colour: 20 steps reach pure black or white, which always has the contrast.
const MIX_STEPS: u32 = 20;
/// The launcher's text: the same face as the panel.
const LAUNCHER_FONT: &str =
    r#"600 15px/1 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif"#;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb` (the only form the config accepts), any case.
    pub fn parse(hex: &str) -> Option<Self> {
        let digits = hex.strip_prefix('#')?;
        if digits.len() != 6 || !digits.is_ascii() {
            return None;
        }
        let channel = |at: usize| u8::from_str_radix(&digits[at..at + 2], 16).ok();
        Some(Self(channel(0)?, channel(2)?, channel(4)?))
    }

    /// WCAG relative luminance.
    fn luminance(self) -> f64 {
        let linear = |channel: u8| {
            let c = f64::from(channel) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    /// Mixes `amount` (0–1) of `other` into this colour.
    fn mix(self, other: Self, amount: f64) -> Self {
        let channel = |a: u8, b: u8| {
            let mixed = f64::from(a) + (f64::from(b) - f64::from(a)) * amount;
            // In 0..=255 by construction; the clamp keeps the cast exact.
            mixed.round().clamp(0.0, 255.0) as u8
        };
        Self(
            channel(self.0, other.0),
            channel(self.1, other.1),
            channel(self.2, other.2),
        )
    }

    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// WCAG contrast ratio, 1–21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Text and icons on the site colour: white if readable, else near-black, else black.
pub fn foreground(accent: Rgb) -> Rgb {
    [WHITE, NEAR_BLACK]
        .into_iter()
        .find(|&candidate| contrast(accent, candidate) >= MIN_TEXT_CONTRAST)
        .unwrap_or(BLACK)
}

/// The site colour as text on `backgrounds`: itself if readable on all of them, else mixed
/// toward `toward` (black on light panels, white on dark ones) until it is.
fn ink(accent: Rgb, backgrounds: [Rgb; 2], toward: Rgb) -> Rgb {
    (0..=MIX_STEPS)
        .map(|step| accent.mix(toward, f64::from(step) / f64::from(MIX_STEPS)))
        .find(|&colour| {
            backgrounds
                .iter()
                .all(|&background| contrast(colour, background) >= MIN_TEXT_CONTRAST)
        })
        .unwrap_or(toward)
}

/// A CSS string literal. The config refuses control characters in launcher text; they are
/// escaped anyway, so a bad value can never end the string or the rule.
fn css_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if c.is_control() => {
                let _ = write!(quoted, "\\{:x} ", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The stylesheet for one site's theme. The colour was validated at config load; an
/// unparsable one (impossible there) falls back to the default theme's colour.
pub fn render(theme: &Theme) -> String {
    let accent = Rgb::parse(&theme.color)
        .or_else(|| Rgb::parse(&Theme::default().color))
        .unwrap_or(WHITE);
    let on_accent = foreground(accent);
    let ink_light = ink(accent, LIGHT_BACKGROUNDS, BLACK);
    let ink_dark = ink(accent, DARK_BACKGROUNDS, WHITE);
    let (left, right) = match theme.position {
        Position::Left => (SIDE_GAP, "auto"),
        Position::Right => ("auto", SIDE_GAP),
    };
    let scheme = match theme.mode {
        ColorMode::Light => "light",
        ColorMode::Dark => "dark",
        ColorMode::Auto => "light dark",
    };
    let (accent, on_accent, ink_light, ink_dark) = (
        accent.hex(),
        on_accent.hex(),
        ink_light.hex(),
        ink_dark.hex(),
    );

    let mut css = String::new();
    css.push_str("/* Natter: this site's look (W13), from the relay's configuration. */\n");
    let _ = writeln!(
        css,
        ".launcher{{background:{accent};color:{on_accent};left:{left};right:{right}}}"
    );
    // The offline grey is the loader's; white is readable on it whatever the site colour.
    css.push_str(".launcher.offline{color:#fff}\n");
    // A double ring (site ink outside, the loader's white halo inside) shows on any page.
    let _ = writeln!(css, ".launcher:focus-visible{{outline-color:{ink_light}}}");
    if let Some(text) = theme.launcher_text.as_deref().map(str::trim) {
        if !text.is_empty() {
            // A pill: icon, then the text. The loader puts the text into the launcher's
            // accessible name; the open launcher is a round close button again.
            let _ = writeln!(
                css,
                ".launcher::after{{content:{};padding-right:6px;font:{LAUNCHER_FONT};white-space:nowrap}}",
                css_string(text)
            );
            css.push_str(".launcher[aria-expanded=true]::after{display:none}\n");
        }
    }
    let _ = writeln!(
        css,
        ":host .natter-app{{--accent:{accent};--on-accent:{on_accent};--link:{ink_light};\
         --focus:{ink_light};--side-left:{left};--side-right:{right};color-scheme:{scheme}}}"
    );
    // Browsers without light-dark() keep the light values above (and the light panel).
    let _ = writeln!(
        css,
        "@supports (color:light-dark(#000,#fff)){{:host .natter-app{{\
         --link:light-dark({ink_light},{ink_dark});--focus:light-dark({ink_light},{ink_dark})}}}}"
    );
    css
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(color: &str) -> Theme {
        Theme {
            color: color.into(),
            ..Theme::default()
        }
    }

    #[test]
    fn contrast_matches_wcag_reference_values() {
        assert!((contrast(WHITE, BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast(WHITE, WHITE) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic just-passing grey (4.54:1).
        let grey = Rgb::parse("#767676").unwrap();
        assert!((contrast(grey, WHITE) - 4.54).abs() < 0.01);
    }

    #[test]
    fn the_foreground_is_readable_on_any_site_colour() {
        assert_eq!(foreground(Rgb::parse("#1d4ed8").unwrap()), WHITE);
        assert_eq!(foreground(Rgb::parse("#facc15").unwrap()), NEAR_BLACK);
        // Every grey, and a sweep through the colour cube, including the mid-tones where
        // neither white nor near-black reaches 4.5:1.
        for r in (0..=255).step_by(15) {
            for g in (0..=255).step_by(15) {
                for b in (0..=255).step_by(15) {
                    let accent = Rgb(r, g, b);
                    let ratio = contrast(accent, foreground(accent));
                    assert!(ratio >= MIN_TEXT_CONTRAST, "{accent:?}: {ratio}");
                }
            }
        }
    }

    #[test]
    fn links_and_focus_rings_are_readable_on_both_panels() {
        for colour in [
            "#facc15", "#ffffff", "#000000", "#1d4ed8", "#22c55e", "#7f7f7f",
        ] {
            let accent = Rgb::parse(colour).unwrap();
            let light = ink(accent, LIGHT_BACKGROUNDS, BLACK);
            let dark = ink(accent, DARK_BACKGROUNDS, WHITE);
            for background in LIGHT_BACKGROUNDS {
                assert!(
                    contrast(light, background) >= MIN_TEXT_CONTRAST,
                    "{colour} light"
                );
            }
            for background in DARK_BACKGROUNDS {
                assert!(
                    contrast(dark, background) >= MIN_TEXT_CONTRAST,
                    "{colour} dark"
                );
            }
        }
        // A colour that is already readable is kept as it is.
        let blue = Rgb::parse("#1d4ed8").unwrap();
        assert_eq!(ink(blue, LIGHT_BACKGROUNDS, BLACK), blue);
    }

    #[test]
    fn a_yellow_left_dark_site_with_launcher_text() {
        let css = render(&Theme {
            color: "#FACC15".into(),
            position: Position::Left,
            launcher_text: Some("Talk to \"us\" \\ now".into()),
            mode: ColorMode::Dark,
        });
        assert!(
            css.contains(".launcher{background:#facc15;color:#111827;left:20px;right:auto}"),
            "{css}"
        );
        assert!(css.contains(r#"content:"Talk to \"us\" \\ now""#), "{css}");
        assert!(
            css.contains("--side-left:20px;--side-right:auto;color-scheme:dark}"),
            "{css}"
        );
    }

    #[test]
    fn the_default_theme_draws_a_round_launcher_on_the_right() {
        let css = render(&Theme::default());
        assert!(
            css.contains(".launcher{background:#1d4ed8;color:#ffffff;left:auto;right:20px}"),
            "{css}"
        );
        assert!(!css.contains("::after"), "no launcher text: {css}");
        assert!(css.contains("color-scheme:light dark"), "{css}");
        assert!(render(&theme("not a colour")).contains("background:#1d4ed8"));
    }

    #[test]
    fn launcher_text_cannot_break_out_of_its_string() {
        assert_eq!(css_string("a\"}\n.x{"), r#""a\"}\a .x{""#);
    }
}
