//! Charts of what this node counted (`provision::metrics`: phone requests, resync reports,
//! NOTIFY outcomes, a minute at a time for a day), drawn here as SVG: no script, no CDN. Each
//! chart says in words what it draws (`aria-label`, and totals in its legend), for those who do
//! not see it.

use provision::metrics::Minute;
use std::fmt::Write;

/// One line (or the bars) of a chart: a value per bucket, oldest first.
pub(super) struct Series {
    pub name: &'static str,
    /// The CSS class that colours it (`style.css`).
    pub class: &'static str,
    pub values: Vec<u64>,
}

/// Sums `minutes` (oldest first) `per` at a time, of what `f` takes from each.
pub(super) fn buckets(minutes: &[Minute], per: usize, f: impl Fn(&Minute) -> u32) -> Vec<u64> {
    minutes
        .chunks(per.max(1))
        .map(|c| c.iter().map(|m| u64::from(f(m))).sum())
        .collect()
}

const W: f64 = 600.0;
const H: f64 = 140.0;
/// Room at the top for the scale's label.
const TOP: f64 = 14.0;

/// A chart of `series` over buckets from `from` to `to` (the words under its ends): the first
/// series as bars when `bars`, every other as a line.
pub(super) fn chart(title: &str, series: &[Series], bars: bool, from: &str, to: &str) -> String {
    let n = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let x = |i: usize| i as f64 * W / n as f64;
    let y = |v: u64| H - (v as f64 / max as f64) * (H - TOP);
    let totals: Vec<String> = series
        .iter()
        .map(|s| format!("{} {}", s.name, s.values.iter().sum::<u64>()))
        .collect();
    let said = format!("{title}, {from} to {to}: {}", totals.join(", "));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure class="chart"><figcaption>{title}</figcaption><svg viewBox="0 0 {W} {H}" role="img" aria-label="{said}"><title>{said}</title>"#
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="0" y1="{H}" x2="{W}" y2="{H}"/><line class="grid" x1="0" y1="{TOP}" x2="{W}" y2="{TOP}"/><text class="scale" x="2" y="{}">{max}</text>"#,
        TOP - 3.0
    );
    for (k, s) in series.iter().enumerate() {
        if k == 0 && bars {
            let w = (W / n as f64 - 1.0).max(0.5);
            for (i, v) in s.values.iter().enumerate().filter(|(_, v)| **v > 0) {
                let _ = write!(
                    svg,
                    r#"<rect class="{}" x="{:.1}" y="{:.1}" width="{w:.1}" height="{:.1}"/>"#,
                    s.class,
                    x(i),
                    y(*v),
                    H - y(*v)
                );
            }
        } else {
            let points: Vec<String> = s
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{:.1},{:.1}", x(i) + W / n as f64 / 2.0, y(*v)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline class="{}" points="{}"/>"#,
                s.class,
                points.join(" ")
            );
        }
    }
    svg.push_str("</svg><p class=\"legend\">");
    for (s, t) in series.iter().zip(&totals) {
        let _ = write!(
            svg,
            r#"<span><i class="swatch {}"></i>{t}</span> "#,
            s.class
        );
    }
    let _ = write!(
        svg,
        r#"</p><p class="ends"><span>{from}</span><span>{to}</span></p></figure>"#
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sum_minutes_and_charts_say_their_totals() {
        let minutes: Vec<Minute> = (0..4)
            .map(|i| Minute {
                at: i,
                requests: i as u32,
                ..Default::default()
            })
            .collect();
        let b = buckets(&minutes, 2, |m| m.requests);
        assert_eq!(b, vec![1, 5]);
        let svg = chart(
            "Requests",
            &[Series {
                name: "phone requests",
                class: "s-requests",
                values: b,
            }],
            true,
            "an hour ago",
            "now",
        );
        assert!(svg.contains(r#"aria-label="Requests, an hour ago to now: phone requests 6""#));
        assert_eq!(svg.matches("<rect ").count(), 2, "{svg}");
        // The highest bar reaches the top of the scale.
        assert!(svg.contains(&format!(r#"y="{TOP:.1}""#)), "{svg}");
    }
}
