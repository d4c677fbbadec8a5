//! The report's picture, as hand-written SVG: latency over time, latency
//! histograms and server memory. SVG is plain text, so a few `format!`
//! calls replace a plotting dependency and the file opens in any browser.

use std::fmt::Write as _;
use std::time::Duration;

use crate::memory::RssSamples;
use crate::stats::{Kind, Sample};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
/// Latency axis: 0.1 ms to 100 s on a log scale covers a loopback GET and
/// a timed-out request alike.
const LOG_MIN: f64 = -1.0;
const LOG_MAX: f64 = 5.0;
/// Histogram buckets per decade of latency.
const PER_DECADE: f64 = 4.0;

/// What the plot draws.
pub(crate) struct PlotInput<'a> {
    pub(crate) title: String,
    pub(crate) samples: &'a [Sample],
    /// `(submit send instant, submit → dashboard latency)`.
    pub(crate) events: &'a [(Duration, Duration)],
    pub(crate) memory: Option<&'a RssSamples>,
}

/// A plot area: its top edge and height in SVG units.
#[derive(Clone, Copy)]
struct Panel {
    top: f64,
    height: f64,
}

impl Panel {
    fn bottom(self) -> f64 {
        self.top + self.height
    }

    /// Y of a fraction of the panel height, 0 at the bottom.
    fn y(self, fraction: f64) -> f64 {
        self.bottom() - fraction.clamp(0.0, 1.0) * self.height
    }
}

/// Renders the whole SVG document.
pub(crate) fn render(input: &PlotInput<'_>) -> String {
    let scatter = Panel {
        top: 80.0,
        height: 250.0,
    };
    let histogram = Panel {
        top: 390.0,
        height: 200.0,
    };
    let memory = Panel {
        top: 660.0,
        height: 140.0,
    };
    let span = time_span(input);

    let mut svg = String::new();
    svg.push_str(r#"<svg xmlns="http://www.w3.org/2000/svg" "#);
    let _ = writeln!(
        svg,
        r#"width="{WIDTH}" height="850" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="24" font-size="16">{}</text>"#,
        escape(&input.title)
    );
    legend(&mut svg, 40.0);

    // Panel 1: each exchange at its start time, latency on a log scale.
    heading(
        &mut svg,
        scatter,
        "latency over time (log scale; failures in red)",
    );
    log_axis(&mut svg, scatter);
    time_axis(&mut svg, scatter, span);
    for sample in input.samples {
        let x = x_of(sample.at, span);
        let y = scatter.y(log_fraction(sample.latency));
        let colour = if sample.outcome.is_ok() {
            colour(Some(sample.kind))
        } else {
            "#d62728"
        };
        let _ = writeln!(
            svg,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="2" fill="{colour}" fill-opacity="0.6"/>"#
        );
    }
    for (sent, latency) in input.events {
        let (x, y) = (x_of(*sent, span), scatter.y(log_fraction(*latency)));
        let _ = writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="4" height="4" fill="{}"/>"#,
            x - 2.0,
            y - 2.0,
            colour(None)
        );
    }

    // Panel 2: share of each kind's successes per latency bucket.
    heading(
        &mut svg,
        histogram,
        "latency histogram (share of each kind per bucket)",
    );
    histogram_panel(&mut svg, histogram, input);

    // Panel 3: server memory, when it was sampled.
    heading(&mut svg, memory, "server resident memory (MiB)");
    match input.memory.filter(|samples| !samples.is_empty()) {
        Some(samples) => memory_panel(&mut svg, memory, samples, span),
        None => {
            let y = memory.top + 30.0;
            let _ = writeln!(
                svg,
                r#"<text x="{LEFT}" y="{y}">not measured (pass --server-pid)</text>"#
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn histogram_panel(svg: &mut String, panel: Panel, input: &PlotInput<'_>) {
    let buckets = ((LOG_MAX - LOG_MIN) * PER_DECADE) as usize;
    let mut series: Vec<(Option<Kind>, Vec<f64>)> = Vec::new();
    for kind in Kind::ALL {
        let latencies = input
            .samples
            .iter()
            .filter(|s| s.kind == kind && s.outcome.is_ok())
            .map(|s| s.latency);
        series.push((Some(kind), shares(latencies, buckets)));
    }
    series.push((None, shares(input.events.iter().map(|e| e.1), buckets)));

    // Shares are scaled to the tallest bucket so shapes stay readable.
    let top = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .fold(0.0, f64::max)
        .max(0.01);
    axis_box(svg, panel);
    for decade in (LOG_MIN as i32)..=(LOG_MAX as i32) {
        let x = LEFT + (f64::from(decade) - LOG_MIN) / (LOG_MAX - LOG_MIN) * plot_width();
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            panel.bottom() + 15.0,
            ms_label(decade)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}%</text>"#,
        LEFT - 5.0,
        panel.top + 10.0,
        top * 100.0
    );
    for (kind, shares) in series.iter().filter(|s| s.1.iter().any(|v| *v > 0.0)) {
        let points: Vec<String> = shares
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let x = LEFT + (i as f64 + 0.5) / buckets as f64 * plot_width();
                format!("{x:.1},{:.1}", panel.y(share / top))
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
            points.join(" "),
            colour(*kind)
        );
    }
}

fn memory_panel(svg: &mut String, panel: Panel, samples: &RssSamples, span: f64) {
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(1).max(1) as f64;
    axis_box(svg, panel);
    time_axis(svg, panel, span);
    let points: Vec<String> = samples
        .iter()
        .map(|(at, kib)| format!("{:.1},{:.1}", x_of(*at, span), panel.y(*kib as f64 / peak)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#333" stroke-width="1.5"/>"##,
        points.join(" ")
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}</text>"#,
        LEFT - 5.0,
        panel.top + 10.0,
        peak / 1024.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">0</text>"#,
        LEFT - 5.0,
        panel.bottom()
    );
}

/// Fraction of `latencies` in each log-spaced bucket.
fn shares(latencies: impl Iterator<Item = Duration>, buckets: usize) -> Vec<f64> {
    let mut counts = vec![0usize; buckets];
    let mut total = 0usize;
    for latency in latencies {
        let index = (log_fraction(latency) * buckets as f64) as usize;
        counts[index.min(buckets - 1)] += 1;
        total += 1;
    }
    counts
        .iter()
        .map(|count| *count as f64 / total.max(1) as f64)
        .collect()
}

/// Position of a latency on the log axis, 0 at 0.1 ms, 1 at 100 s.
fn log_fraction(latency: Duration) -> f64 {
    let ms = (latency.as_secs_f64() * 1e3).max(1e-3);
    ((ms.log10() - LOG_MIN) / (LOG_MAX - LOG_MIN)).clamp(0.0, 1.0)
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

/// Seconds from run start to the last thing drawn, at least one.
fn time_span(input: &PlotInput<'_>) -> f64 {
    let requests = input.samples.iter().map(|s| s.at + s.latency);
    let events = input.events.iter().map(|e| e.0 + e.1);
    let memory = input.memory.into_iter().flatten().map(|m| m.0);
    let last = requests
        .chain(events)
        .chain(memory)
        .max()
        .unwrap_or_default();
    last.as_secs_f64().max(1.0)
}

fn x_of(at: Duration, span: f64) -> f64 {
    LEFT + (at.as_secs_f64() / span).clamp(0.0, 1.0) * plot_width()
}

fn heading(svg: &mut String, panel: Panel, text: &str) {
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{:.1}" font-weight="bold">{text}</text>"#,
        panel.top - 8.0
    );
}

fn axis_box(svg: &mut String, panel: Panel) {
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        panel.top,
        plot_width(),
        panel.height
    );
}

fn log_axis(svg: &mut String, panel: Panel) {
    axis_box(svg, panel);
    for decade in (LOG_MIN as i32)..=(LOG_MAX as i32) {
        let y = panel.y((f64::from(decade) - LOG_MIN) / (LOG_MAX - LOG_MIN));
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/>"##,
            WIDTH - RIGHT
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 5.0,
            y + 4.0,
            ms_label(decade)
        );
    }
}

fn time_axis(svg: &mut String, panel: Panel, span: f64) {
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|step| span / step <= 12.0)
        .unwrap_or(1200.0);
    let ticks = (span / step).floor() as usize;
    for tick in 0..=ticks {
        let seconds = tick as f64 * step;
        let x = LEFT + seconds / span * plot_width();
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{seconds:.0}s</text>"#,
            panel.bottom() + 15.0
        );
    }
}

fn legend(svg: &mut String, y: f64) {
    let entries = Kind::ALL.iter().map(|kind| (Some(*kind), kind.name()));
    let entries = entries.chain([(None, "submit→dashboard")]);
    for (index, (kind, name)) in entries.enumerate() {
        let x = LEFT + index as f64 * 96.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/>"#,
            y - 9.0,
            colour(kind)
        );
        let _ = writeln!(svg, r#"<text x="{}" y="{y}">{name}</text>"#, x + 14.0);
    }
}

/// One colour per kind; `None` is the submit → dashboard series.
fn colour(kind: Option<Kind>) -> &'static str {
    match kind {
        Some(Kind::Login) => "#9467bd",
        Some(Kind::List) => "#8c564b",
        Some(Kind::Get) => "#1f77b4",
        Some(Kind::Autosave) => "#2ca02c",
        Some(Kind::Submit) => "#ff7f0e",
        Some(Kind::Subscribe) => "#17becf",
        Some(Kind::StormLogin) => "#e377c2",
        Some(Kind::Logout) => "#7f7f7f",
        None => "#000000",
    }
}

fn ms_label(decade: i32) -> String {
    match decade {
        -1 => "0.1ms".to_owned(),
        0..=2 => format!("{}ms", 10u64.pow(decade.unsigned_abs())),
        _ => format!("{}s", 10u64.pow(decade.unsigned_abs() - 3)),
    }
}

/// The title holds a URL given on the command line; keep it inert in XML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Outcome;

    #[test]
    fn log_axis_maps_decades_evenly_and_clamps() {
        assert_eq!(log_fraction(Duration::from_micros(100)), 0.0);
        assert!((log_fraction(Duration::from_millis(10)) - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(log_fraction(Duration::from_secs(1000)), 1.0);
        assert_eq!(log_fraction(Duration::ZERO), 0.0);
    }

    #[test]
    fn histogram_shares_sum_to_one() {
        let latencies = [1, 5, 50, 500, 5000].map(Duration::from_millis);
        let filled = shares(latencies.into_iter(), 24);
        assert!((filled.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(shares(std::iter::empty(), 24).iter().sum::<f64>(), 0.0);
    }

    #[test]
    fn svg_is_one_closed_document_with_a_point_per_sample() {
        let sample = Sample {
            kind: Kind::Get,
            at: Duration::from_secs(1),
            latency: Duration::from_millis(3),
            outcome: Outcome::Status(200),
        };
        let input = PlotInput {
            title: "run <1>".to_owned(),
            samples: &[sample, sample],
            events: &[],
            memory: None,
        };
        let svg = render(&input);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("run &lt;1&gt;"));
    }
}
