//! The SVG plot: send → ack p99 against the offered rate, one line per set-up, on a log scale
//! (latencies span from under a millisecond to seconds). Hand-written SVG, no dependency.

use std::fmt::Write as _;

/// One set-up's points: (offered msg/s, p99 in ms).
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// The y axis: 0.1 ms to 10 s.
const Y_MIN_LOG: f64 = -1.0;
const Y_MAX_LOG: f64 = 4.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// The whole SVG document.
pub fn svg(title: &str, lines: &[Line]) -> String {
    let max_rate = lines
        .iter()
        .flat_map(|line| line.points.iter().map(|(rate, _)| *rate))
        .fold(1000.0_f64, f64::max);
    let x_max = nice_ceiling(max_rate);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        LEFT + plot_width() / 2.0,
        escape(title)
    );
    axes(&mut out, x_max);
    limit(&mut out, 50.0, "p99 50 ms", "#999");
    limit(&mut out, 5.0, "target 5 ms", "#bbb");
    for (index, line) in lines.iter().enumerate() {
        series(&mut out, line, COLOURS[index % COLOURS.len()], x_max, index);
    }
    let _ = writeln!(out, "</svg>");
    out
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

fn x_of(rate: f64, x_max: f64) -> f64 {
    LEFT + rate / x_max * plot_width()
}

fn y_of(ms: f64) -> f64 {
    let log = ms.max(1e-3).log10().clamp(Y_MIN_LOG, Y_MAX_LOG);
    TOP + (Y_MAX_LOG - log) / (Y_MAX_LOG - Y_MIN_LOG) * plot_height()
}

/// The next round number above `value` (1, 2 or 5 times a power of ten).
fn nice_ceiling(value: f64) -> f64 {
    let power = 10_f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * power)
}

fn axes(out: &mut String, x_max: f64) {
    let (bottom, right) = (TOP + plot_height(), LEFT + plot_width());
    let _ = writeln!(
        out,
        r##"<path d="M{LEFT} {TOP} V{bottom} H{right}" stroke="#333" fill="none"/>"##
    );
    for tick in 0..=5 {
        let rate = x_max * f64::from(tick) / 5.0;
        let x = x_of(rate, x_max);
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{bottom}" x2="{x}" y2="{}" stroke="#333"/><text x="{x}" y="{}" text-anchor="middle">{rate:.0}</text>"##,
            bottom + 5.0,
            bottom + 20.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">offered rate (messages per second)</text>"#,
        LEFT + plot_width() / 2.0,
        bottom + 42.0
    );
    for power in -1..=4 {
        let ms = 10_f64.powi(power);
        let y = y_of(ms);
        let label = if ms < 1.0 {
            format!("{ms}")
        } else {
            format!("{ms:.0}")
        };
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{label}</text>"##,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">send → ack p99 (ms, log scale)</text>"#,
        TOP + plot_height() / 2.0
    );
}

/// A dashed horizontal line at `ms`, labelled on the right.
fn limit(out: &mut String, ms: f64, label: &str, colour: &str) {
    let (y, right) = (y_of(ms), LEFT + plot_width());
    let _ = writeln!(
        out,
        r#"<line x1="{LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="{colour}" stroke-dasharray="5 4"/><text x="{}" y="{}" fill="{colour}">{label}</text>"#,
        right + 6.0,
        y + 4.0
    );
}

fn series(out: &mut String, line: &Line, colour: &str, x_max: f64, index: usize) {
    let mut points = line.points.clone();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let path: Vec<String> = points
        .iter()
        .map(|(rate, ms)| format!("{:.1},{:.1}", x_of(*rate, x_max), y_of(*ms)))
        .collect();
    let _ = writeln!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
        path.join(" ")
    );
    for (rate, ms) in &points {
        let _ = writeln!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{rate:.0} msg/s: p99 {ms:.2} ms</title></circle>"#,
            x_of(*rate, x_max),
            y_of(*ms)
        );
    }
    let legend_y = TOP + 20.0 * index as f64 + 10.0;
    let legend_x = LEFT + plot_width() + 12.0;
    let _ = writeln!(
        out,
        r#"<line x1="{legend_x}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
        legend_x + 20.0,
        legend_x + 26.0,
        legend_y + 4.0,
        escape(&line.label)
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
