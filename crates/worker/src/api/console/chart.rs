//! The overview's chart: sent, retried and dead jobs per minute over the last hour, drawn as
//! an inline SVG element by the server (no script, no chart library). Each series is a
//! polyline over a fixed 600 × 160 view box; the page's stylesheet colours them.

use mailroom_queue::MinuteCounts;

/// Width of the view box.
pub const WIDTH: u32 = 600;
/// Height of the view box.
pub const HEIGHT: u32 = 160;

/// Picks one series' value out of a minute.
type Pick = fn(&MinuteCounts) -> u64;

/// One line of the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// `sent`, `retried` or `dead` (also its CSS class).
    pub name: &'static str,
    /// The polyline's points, `x,y x,y …`.
    pub points: String,
    /// The series' sum over the hour.
    pub total: u64,
    /// The series' last minute.
    pub last: u64,
}

/// The chart of some minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The lines, sent first.
    pub series: Vec<Series>,
    /// The value of the top of the chart (at least 1).
    pub max: u64,
    /// How many minutes it covers.
    pub minutes: usize,
}

impl Chart {
    /// The chart of `minutes`, oldest first.
    #[must_use]
    pub fn of(minutes: &[MinuteCounts]) -> Self {
        let pick: [(&'static str, Pick); 3] = [
            ("sent", |m| m.sent),
            ("retried", |m| m.retried),
            ("dead", |m| m.dead),
        ];
        let max = minutes
            .iter()
            .flat_map(|m| [m.sent, m.retried, m.dead])
            .max()
            .unwrap_or(0)
            .max(1);
        let step = f64::from(WIDTH) / (minutes.len().max(2) - 1) as f64;
        let series = pick
            .into_iter()
            .map(|(name, value)| {
                let points = minutes
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let x = i as f64 * step;
                        let y = f64::from(HEIGHT) * (1.0 - value(m) as f64 / max as f64);
                        format!("{x:.1},{y:.1}")
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                Series {
                    name,
                    points,
                    total: minutes.iter().map(value).sum(),
                    last: minutes.last().map_or(0, value),
                }
            })
            .collect();
        Self {
            series,
            max,
            minutes: minutes.len(),
        }
    }

    /// The SVG element's accessible description.
    #[must_use]
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .series
            .iter()
            .map(|s| format!("{} {}", s.total, s.name))
            .collect();
        format!(
            "Jobs per minute over the last {} minutes: {}",
            self.minutes,
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_span_the_box_and_the_top_is_the_largest_count() {
        let minutes: Vec<MinuteCounts> = (0..60)
            .map(|i| MinuteCounts {
                minute: i,
                sent: if i == 59 { 8 } else { 2 },
                retried: 1,
                dead: 0,
            })
            .collect();
        let chart = Chart::of(&minutes);
        assert_eq!(chart.max, 8);
        let sent = &chart.series[0];
        assert_eq!((sent.name, sent.total, sent.last), ("sent", 126, 8));
        assert!(sent.points.starts_with("0.0,120.0 "), "{}", sent.points);
        assert!(sent.points.ends_with(" 600.0,0.0"), "{}", sent.points);
        assert!(chart.series[2].points.ends_with("600.0,160.0"));
        assert_eq!(
            chart.summary(),
            "Jobs per minute over the last 60 minutes: 126 sent, 60 retried, 0 dead"
        );
    }
}
