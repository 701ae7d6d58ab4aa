//! Server-rendered, accessible SVG charts.
//!
//! Each chart is a small builder that renders to [`ChartHtml`], markup to put in a
//! template with `{{ chart|safe }}`:
//!
//! ```html
//! <figure class="chart chart-bar" data-chart="bar">
//!   <figcaption class="chart-caption">Bundles by state</figcaption>
//!   <svg viewBox="…" role="img|group" aria-labelledby="…-title …-desc">
//!     <title>…</title><desc>…</desc>
//!     … marks; a datum with an href is an <a> (Tab reaches it; its aria-label says
//!       "Active: 12 bundles") …
//!   </svg>
//!   <table class="visually-hidden">…the same numbers…</table>
//! </figure>
//! ```
//!
//! - **Accessible.** The SVG has a `<title>` and `<desc>` and is `role="img"`, or
//!   `role="group"` when it holds links (an image's children are hidden from
//!   assistive technology, links included). Axes, grid lines and labels are
//!   `aria-hidden`; every number is also in a visually hidden `<table>`.
//! - **Counts are links.** [`Datum::href`] turns a bar, segment or slice into a link
//!   to the list it counts (`/bundles?state=active`).
//! - **Empty data** renders the chart's empty-state sentence ([`BarChart::empty`] and
//!   friends) instead of an empty plot.
//! - **Colours are CSS.** Marks carry classes, not colours: `series-0` … `series-7`
//!   in order, or a [`Tone`] for values with a meaning (severity, state). The palette
//!   lives in `static/charter.css`, section "Charts", as a custom property `--c` per
//!   class, so HTML swatches and SVG marks share it. The page CSP forbids inline
//!   styles, so nothing here writes a `style` attribute.
//! - **Sizes.** Charts draw in a fixed `viewBox` and scale to their container's width.
//!
//! The charts: [`BarChart`] (vertical bars, stacked when a bar has several
//! segments), [`HBarChart`] (horizontal bars with room for long labels, optionally
//! in groups), [`DonutChart`], [`LineChart`] (several series, axes with ticks,
//! linear or time x axis) and [`Sparkline`] (a trend in a line of text).
//!
//! ```ignore
//! use crate::ui::chart::{BarChart, Datum, Tone};
//! let chart = BarChart::new("Open findings by severity", "findings")
//!     .empty("No open findings.")
//!     .bar(Datum::new("High", 3.0).tone(Tone::High).href("/findings?severity=high"))
//!     .bar(Datum::new("Low", 1.0).tone(Tone::Low).href("/findings?severity=low"))
//!     .render();
//! ```

use std::fmt::{self, Write as _};

/// Rendered chart markup (a `<figure>`, or an `<svg>` for a [`Sparkline`]). Every
/// text in it is escaped, so templates may print it with `|safe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartHtml(String);

impl ChartHtml {
    /// The markup.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChartHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for ChartHtml {}

/// A colour with a meaning; the CSS class `tone-<name>` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// The n-th colour of the series palette (`series-<n mod 8>`).
    Series(usize),
    Accent,
    Ok,
    Warn,
    Danger,
    Muted,
    /// Finding severities.
    Critical,
    High,
    Medium,
    Low,
}

impl Tone {
    /// Colours in the series palette.
    pub const PALETTE: usize = 8;

    /// The CSS class that colours a mark (sets `--c`).
    pub fn class(self) -> String {
        let name = match self {
            Self::Series(n) => return format!("series-{}", n % Self::PALETTE),
            Self::Accent => "accent",
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Danger => "danger",
            Self::Muted => "muted",
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        };
        format!("tone-{name}")
    }
}

/// One value: a bar, a segment of a stacked bar, a slice of a donut.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub label: String,
    /// Negative and non-finite values count as 0 (these charts show amounts).
    pub value: f64,
    /// Where the mark links to (the list this value counts).
    pub href: Option<String>,
    /// Its colour; by default the chart picks one by position or series.
    pub tone: Option<Tone>,
}

impl Datum {
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Self {
            label: label.into(),
            value,
            href: None,
            tone: None,
        }
    }

    /// Link the mark to `href` (already a URL: query values must be encoded).
    #[must_use]
    pub fn href(mut self, href: impl Into<String>) -> Self {
        self.href = Some(href.into());
        self
    }

    /// Link the mark to `href` when there is one.
    #[must_use]
    pub fn href_opt(mut self, href: Option<String>) -> Self {
        self.href = href;
        self
    }

    #[must_use]
    pub fn tone(mut self, tone: Tone) -> Self {
        self.tone = Some(tone);
        self
    }

    fn amount(&self) -> f64 {
        if self.value.is_finite() && self.value > 0.0 {
            self.value
        } else {
            0.0
        }
    }
}

/// What every chart has: a title (the visible caption and the SVG's `<title>`), a
/// unit for sentences ("12 bundles"), an optional longer description, and the
/// sentence shown when there is nothing to draw.
#[derive(Debug, Clone)]
struct Frame {
    title: String,
    unit: String,
    description: Option<String>,
    empty: String,
    caption: bool,
}

impl Frame {
    fn new(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            unit: unit.into(),
            description: None,
            empty: "Nothing to show yet.".to_owned(),
            caption: true,
        }
    }

    /// "12 bundles" (the unit as given; callers pass a plural).
    fn amount(&self, v: f64) -> String {
        let n = format_value(v);
        if self.unit.is_empty() {
            n
        } else {
            format!("{n} {}", self.unit)
        }
    }

    fn open(&self, out: &mut String, kind: &str) {
        let _ = write!(out, r#"<figure class="chart chart-{kind}" data-chart="{kind}">"#);
        if self.caption {
            let _ = write!(
                out,
                r#"<figcaption class="chart-caption">{}</figcaption>"#,
                esc(&self.title)
            );
        }
    }

    fn empty_state(&self, kind: &str) -> ChartHtml {
        let mut out = String::new();
        self.open(&mut out, kind);
        let _ = write!(
            out,
            r#"<p class="chart-empty" data-chart-empty>{}</p></figure>"#,
            esc(&self.empty)
        );
        ChartHtml(out)
    }

    /// `<svg …><title/><desc/>`; `linked` charts are groups of links, others images.
    fn svg_open(&self, out: &mut String, id: &str, width: f64, height: f64, linked: bool, summary: &str) {
        let role = if linked { "group" } else { "img" };
        let desc = match &self.description {
            Some(d) => format!("{d} {summary}"),
            None => summary.to_owned(),
        };
        let _ = write!(
            out,
            r#"<svg class="chart-svg" viewBox="0 0 {} {}" preserveAspectRatio="xMidYMid meet" role="{role}" aria-labelledby="{id}-title {id}-desc" focusable="false"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
            num(width),
            num(height),
            esc(&self.title),
            esc(desc.trim())
        );
    }

    /// The visually hidden table: a header row, then one row per entry.
    fn table(&self, out: &mut String, head: &[&str], rows: &[Vec<String>]) {
        let _ = write!(
            out,
            r#"<table class="visually-hidden chart-table"><caption>{}</caption><thead><tr>"#,
            esc(&self.title)
        );
        for h in head {
            let _ = write!(out, r#"<th scope="col">{}</th>"#, esc(h));
        }
        out.push_str("</tr></thead><tbody>");
        for row in rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                if i == 0 {
                    let _ = write!(out, r#"<th scope="row">{}</th>"#, esc(cell));
                } else {
                    let _ = write!(out, "<td>{}</td>", esc(cell));
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
}

macro_rules! frame_methods {
    () => {
        /// A sentence or two for the SVG's `<desc>`, before the computed summary.
        #[must_use]
        pub fn describe(mut self, text: impl Into<String>) -> Self {
            self.frame.description = Some(text.into());
            self
        }

        /// What to say instead of the chart when there is nothing to draw.
        #[must_use]
        pub fn empty(mut self, text: impl Into<String>) -> Self {
            self.frame.empty = text.into();
            self
        }

        /// Leave out the visible caption (the page's heading already says it); the
        /// title still names the SVG and its table.
        #[must_use]
        pub fn no_caption(mut self) -> Self {
            self.frame.caption = false;
            self
        }
    };
}

/// A vertical bar chart. A bar with one segment is a plain bar; with several, the
/// segments stack, coloured by segment label (the same label has the same colour
/// on every bar) and explained by a legend.
#[derive(Debug, Clone)]
pub struct BarChart {
    frame: Frame,
    bars: Vec<(String, Vec<Datum>)>,
}

impl BarChart {
    pub const WIDTH: f64 = 640.0;
    pub const HEIGHT: f64 = 260.0;
    const TOP: f64 = 18.0;
    const BOTTOM: f64 = 34.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 8.0;
    /// The height of the plot area: a bar of the axis's top value is this tall.
    pub const PLOT_HEIGHT: f64 = Self::HEIGHT - Self::TOP - Self::BOTTOM;

    /// `unit` is the plural noun of the values ("bundles").
    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            frame: Frame::new(title, unit),
            bars: Vec::new(),
        }
    }

    frame_methods!();

    /// A plain bar.
    #[must_use]
    pub fn bar(mut self, d: Datum) -> Self {
        self.bars.push((d.label.clone(), vec![d]));
        self
    }

    /// A stacked bar labelled `label`, its segments bottom to top.
    #[must_use]
    pub fn stack(mut self, label: impl Into<String>, segments: Vec<Datum>) -> Self {
        self.bars.push((label.into(), segments));
        self
    }

    fn stacked(&self) -> bool {
        self.bars.iter().any(|(_, s)| s.len() > 1)
    }

    pub fn render(&self) -> ChartHtml {
        let kind = if self.stacked() { "stacked" } else { "bar" };
        let total: f64 = self.bars.iter().flat_map(|(_, s)| s).map(Datum::amount).sum();
        if self.bars.is_empty() || total == 0.0 {
            return self.frame.empty_state(kind);
        }
        let legend = legend_of(self.bars.iter().flat_map(|(_, s)| s));
        let max = self
            .bars
            .iter()
            .map(|(_, s)| s.iter().map(Datum::amount).sum::<f64>())
            .fold(0.0, f64::max);
        let axis = Axis::nice(0.0, max, 5);
        let linked = self.bars.iter().flat_map(|(_, s)| s).any(|d| d.href.is_some());
        let summary = format!(
            "{} bars; the largest is {}, {} in all.",
            self.bars.len(),
            self.frame.amount(max),
            self.frame.amount(total)
        );
        let id = chart_id(kind, &self.frame.title, &summary);
        let mut out = String::new();
        self.frame.open(&mut out, kind);
        self.frame
            .svg_open(&mut out, &id, Self::WIDTH, Self::HEIGHT, linked, &summary);

        let (x0, x1) = (Self::LEFT, Self::WIDTH - Self::RIGHT);
        let (y0, y1) = (Self::TOP, Self::HEIGHT - Self::BOTTOM);
        let scale = |v: f64| axis.scale(v, y1, y0);
        // Grid and y ticks.
        out.push_str(r#"<g class="chart-axis" aria-hidden="true">"#);
        for t in axis.ticks() {
            let y = scale(t);
            let _ = write!(
                out,
                r#"<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="chart-tick" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>"#,
                num(x0),
                num(x1),
                num(y),
                num(y),
                num(x0 - 6.0),
                num(y),
                esc(&axis.label(t))
            );
        }
        let _ = write!(
            out,
            r#"<line class="chart-baseline" x1="{}" x2="{}" y1="{}" y2="{}"/></g>"#,
            num(x0),
            num(x1),
            num(y1),
            num(y1)
        );

        let band = (x1 - x0) / self.bars.len() as f64;
        let width = (band * 0.62).min(72.0);
        let label_chars = ((band / 7.0) as usize).max(4);
        for (i, (label, segments)) in self.bars.iter().enumerate() {
            let x = x0 + band * i as f64 + (band - width) / 2.0;
            let mut base = 0.0;
            for (j, d) in segments.iter().enumerate() {
                let v = d.amount();
                let top = scale(base + v);
                let h = scale(base) - top;
                let tone = d.tone.unwrap_or_else(|| {
                    if self.stacked() {
                        Tone::Series(legend.iter().position(|l| *l == d.label).unwrap_or(j))
                    } else {
                        Tone::Series(0)
                    }
                });
                let name = if segments.len() > 1 {
                    format!("{label}, {}: {}", d.label, self.frame.amount(v))
                } else {
                    format!("{label}: {}", self.frame.amount(v))
                };
                mark(
                    &mut out,
                    d.href.as_deref(),
                    &name,
                    &format!(
                        r#"<rect class="chart-bar chart-mark {}" x="{}" y="{}" width="{}" height="{}" rx="2" data-value="{}"><title>{}</title></rect>"#,
                        tone.class(),
                        num(x),
                        num(top),
                        num(width),
                        num(h),
                        num(v),
                        esc(&name)
                    ),
                );
                base += v;
            }
            let _ = write!(
                out,
                r#"<g aria-hidden="true"><text class="chart-value" x="{}" y="{}" text-anchor="middle">{}</text><text class="chart-label" x="{}" y="{}" text-anchor="middle">{}</text></g>"#,
                num(x + width / 2.0),
                num(scale(base) - 5.0),
                esc(&format_value(base)),
                num(x + width / 2.0),
                num(y1 + 18.0),
                esc(&truncate(label, label_chars))
            );
        }
        out.push_str("</svg>");
        if self.stacked() {
            legend_html(&mut out, &legend, &self.bars);
        }
        let rows: Vec<Vec<String>> = if self.stacked() {
            self.bars
                .iter()
                .flat_map(|(label, s)| {
                    s.iter()
                        .map(move |d| vec![label.clone(), d.label.clone(), format_value(d.amount())])
                })
                .collect()
        } else {
            self.bars
                .iter()
                .flat_map(|(_, s)| s)
                .map(|d| vec![d.label.clone(), format_value(d.amount())])
                .collect()
        };
        let unit = capitalize(&self.frame.unit);
        if self.stacked() {
            self.frame.table(&mut out, &["", "Part", &unit], &rows);
        } else {
            self.frame.table(&mut out, &["", &unit], &rows);
        }
        out.push_str("</figure>");
        ChartHtml(out)
    }
}

/// A horizontal bar chart: one row per value, its label on the left (room for
/// long names), the value at the bar's end. Rows may be grouped under headings.
#[derive(Debug, Clone)]
pub struct HBarChart {
    frame: Frame,
    /// `(group heading, rows)`; a `None` heading draws no heading row.
    groups: Vec<(Option<String>, Vec<Datum>)>,
}

impl HBarChart {
    pub const WIDTH: f64 = 640.0;
    const LABEL: f64 = 210.0;
    const ROW: f64 = 30.0;
    const HEADING: f64 = 26.0;
    const BAR: f64 = 18.0;
    /// The length of the longest bar.
    pub const PLOT_WIDTH: f64 = Self::WIDTH - Self::LABEL - 60.0;

    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            frame: Frame::new(title, unit),
            groups: Vec::new(),
        }
    }

    frame_methods!();

    /// One row, in the current (unnamed) group.
    #[must_use]
    pub fn row(mut self, d: Datum) -> Self {
        match self.groups.last_mut() {
            Some((None, rows)) => rows.push(d),
            _ => self.groups.push((None, vec![d])),
        }
        self
    }

    /// Rows under a heading.
    #[must_use]
    pub fn group(mut self, heading: impl Into<String>, rows: Vec<Datum>) -> Self {
        self.groups.push((Some(heading.into()), rows));
        self
    }

    pub fn render(&self) -> ChartHtml {
        let all = || self.groups.iter().flat_map(|(_, r)| r);
        let total: f64 = all().map(Datum::amount).sum();
        if all().next().is_none() || total == 0.0 {
            return self.frame.empty_state("hbar");
        }
        let max = all().map(Datum::amount).fold(0.0, f64::max);
        let headings = self.groups.iter().filter(|(h, _)| h.is_some()).count() as f64;
        let height = all().count() as f64 * Self::ROW + headings * Self::HEADING + 8.0;
        let linked = all().any(|d| d.href.is_some());
        let summary = format!(
            "{} rows; the largest is {}, {} in all.",
            all().count(),
            self.frame.amount(max),
            self.frame.amount(total)
        );
        let id = chart_id("hbar", &self.frame.title, &summary);
        let mut out = String::new();
        self.frame.open(&mut out, "hbar");
        self.frame
            .svg_open(&mut out, &id, Self::WIDTH, height, linked, &summary);
        let mut y = 4.0;
        for (heading, rows) in &self.groups {
            if let Some(h) = heading {
                let _ = write!(
                    out,
                    r#"<text class="chart-group" x="0" y="{}" aria-hidden="true">{}</text>"#,
                    num(y + 17.0),
                    esc(&truncate(h, 80))
                );
                y += Self::HEADING;
            }
            for d in rows {
                let v = d.amount();
                let w = if max > 0.0 { v / max * Self::PLOT_WIDTH } else { 0.0 };
                let tone = d.tone.unwrap_or(Tone::Series(0));
                let name = match heading {
                    Some(h) => format!("{h}, {}: {}", d.label, self.frame.amount(v)),
                    None => format!("{}: {}", d.label, self.frame.amount(v)),
                };
                let by = y + (Self::ROW - Self::BAR) / 2.0;
                let _ = write!(
                    out,
                    r#"<text class="chart-label" x="{}" y="{}" text-anchor="end" dominant-baseline="middle" aria-hidden="true">{}</text>"#,
                    num(Self::LABEL - 10.0),
                    num(y + Self::ROW / 2.0),
                    esc(&truncate(&d.label, 30))
                );
                let _ = write!(
                    out,
                    r#"<rect class="chart-track" x="{}" y="{}" width="{}" height="{}" rx="2" aria-hidden="true"/>"#,
                    num(Self::LABEL),
                    num(by),
                    num(Self::PLOT_WIDTH),
                    num(Self::BAR)
                );
                mark(
                    &mut out,
                    d.href.as_deref(),
                    &name,
                    &format!(
                        r#"<rect class="chart-bar chart-mark {}" x="{}" y="{}" width="{}" height="{}" rx="2" data-value="{}"><title>{}</title></rect>"#,
                        tone.class(),
                        num(Self::LABEL),
                        num(by),
                        num(w),
                        num(Self::BAR),
                        num(v),
                        esc(&name)
                    ),
                );
                let _ = write!(
                    out,
                    r#"<text class="chart-value" x="{}" y="{}" dominant-baseline="middle" aria-hidden="true">{}</text>"#,
                    num(Self::LABEL + w + 6.0),
                    num(y + Self::ROW / 2.0),
                    esc(&format_value(v))
                );
                y += Self::ROW;
            }
        }
        out.push_str("</svg>");
        let grouped = self.groups.iter().any(|(h, _)| h.is_some());
        let rows: Vec<Vec<String>> = self
            .groups
            .iter()
            .flat_map(|(h, rows)| {
                rows.iter().map(move |d| {
                    let mut row = Vec::with_capacity(3);
                    if grouped {
                        row.push(h.clone().unwrap_or_default());
                    }
                    row.push(d.label.clone());
                    row.push(format_value(d.amount()));
                    row
                })
            })
            .collect();
        let unit = capitalize(&self.frame.unit);
        if grouped {
            self.frame.table(&mut out, &["Group", "", &unit], &rows);
        } else {
            self.frame.table(&mut out, &["", &unit], &rows);
        }
        out.push_str("</figure>");
        ChartHtml(out)
    }
}

/// A donut: parts of a whole, the total in the middle, and a legend whose entries
/// carry the numbers (and links, when the parts have them).
#[derive(Debug, Clone)]
pub struct DonutChart {
    frame: Frame,
    parts: Vec<Datum>,
}

impl DonutChart {
    const SIZE: f64 = 200.0;
    const RADIUS: f64 = 80.0;
    const THICKNESS: f64 = 28.0;

    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            frame: Frame::new(title, unit),
            parts: Vec::new(),
        }
    }

    frame_methods!();

    #[must_use]
    pub fn part(mut self, d: Datum) -> Self {
        self.parts.push(d);
        self
    }

    pub fn render(&self) -> ChartHtml {
        let total: f64 = self.parts.iter().map(Datum::amount).sum();
        if total == 0.0 {
            return self.frame.empty_state("donut");
        }
        let summary = self
            .parts
            .iter()
            .map(|d| format!("{}: {}", d.label, format_value(d.amount())))
            .collect::<Vec<_>>()
            .join("; ");
        let summary = format!("{} in all. {summary}.", self.frame.amount(total));
        let id = chart_id("donut", &self.frame.title, &summary);
        let mut out = String::new();
        self.frame.open(&mut out, "donut");
        out.push_str(r#"<div class="chart-donut-body">"#);
        // The slices are for the eye and the mouse; the legend beside them holds the
        // same links, reachable by keyboard and read by screen readers.
        self.frame
            .svg_open(&mut out, &id, Self::SIZE, Self::SIZE, false, &summary);
        let c = Self::SIZE / 2.0;
        let r = Self::RADIUS - Self::THICKNESS / 2.0;
        let mut start = 0.0;
        for (i, d) in self.parts.iter().enumerate() {
            let v = d.amount();
            if v == 0.0 {
                continue;
            }
            let tone = d.tone.unwrap_or(Tone::Series(i));
            let name = format!("{}: {} ({})", d.label, self.frame.amount(v), percent(v, total));
            let shape = if v >= total {
                // A whole circle is not an arc: draw a ring.
                format!(
                    r#"<circle class="chart-slice chart-mark {}" cx="{}" cy="{}" r="{}" stroke-width="{}" fill="none" data-value="{}"><title>{}</title></circle>"#,
                    tone.class(),
                    num(c),
                    num(c),
                    num(r),
                    num(Self::THICKNESS),
                    num(v),
                    esc(&name)
                )
            } else {
                let end = start + v / total;
                format!(
                    r#"<path class="chart-slice chart-mark {}" d="{}" stroke-width="{}" fill="none" data-value="{}"><title>{}</title></path>"#,
                    tone.class(),
                    arc(c, c, r, start, end),
                    num(Self::THICKNESS),
                    num(v),
                    esc(&name)
                )
            };
            match &d.href {
                Some(h) => {
                    let _ = write!(
                        out,
                        r#"<a href="{}" tabindex="-1" aria-hidden="true">{shape}</a>"#,
                        esc(h)
                    );
                }
                None => out.push_str(&shape),
            }
            start += v / total;
        }
        let _ = write!(
            out,
            r#"<g aria-hidden="true"><text class="chart-total" x="{}" y="{}" text-anchor="middle">{}</text><text class="chart-total-unit" x="{}" y="{}" text-anchor="middle">{}</text></g></svg>"#,
            num(c),
            num(c + 4.0),
            esc(&format_value(total)),
            num(c),
            num(c + 24.0),
            esc(&self.frame.unit)
        );
        out.push_str(r#"<ul class="chart-legend chart-legend-values">"#);
        for (i, d) in self.parts.iter().enumerate() {
            let tone = d.tone.unwrap_or(Tone::Series(i));
            let text = format!(
                r#"<span class="chart-swatch {}" aria-hidden="true"></span><span class="chart-legend-label">{}</span> <span class="chart-legend-value">{}</span>"#,
                tone.class(),
                esc(&d.label),
                esc(&format_value(d.amount()))
            );
            match &d.href {
                Some(h) => {
                    let _ = write!(
                        out,
                        r#"<li><a href="{}" aria-label="{}">{text}</a></li>"#,
                        esc(h),
                        esc(&format!("{}: {}", d.label, self.frame.amount(d.amount())))
                    );
                }
                None => {
                    let _ = write!(out, "<li>{text}</li>");
                }
            }
        }
        out.push_str("</ul></div>");
        let rows: Vec<Vec<String>> = self
            .parts
            .iter()
            .map(|d| vec![d.label.clone(), format_value(d.amount()), percent(d.amount(), total)])
            .collect();
        let unit = capitalize(&self.frame.unit);
        self.frame.table(&mut out, &["", &unit, "Share"], &rows);
        out.push_str("</figure>");
        ChartHtml(out)
    }
}

/// How a [`LineChart`]'s x values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Plain numbers (steps, epochs).
    Linear,
    /// Epoch milliseconds, labelled as UTC dates and times.
    Time,
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// `(x, y)`; points with a non-finite coordinate are left out.
    pub points: Vec<(f64, f64)>,
    pub tone: Option<Tone>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            tone: None,
        }
    }

    #[must_use]
    pub fn tone(mut self, tone: Tone) -> Self {
        self.tone = Some(tone);
        self
    }

    fn finite(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }
}

/// A line chart: several series over a shared x axis, with ticks and grid lines on
/// both axes and a legend. Points are marked (with a tooltip) when a series has
/// few enough of them to tell apart.
#[derive(Debug, Clone)]
pub struct LineChart {
    frame: Frame,
    series: Vec<Series>,
    x_axis: XAxis,
    x_label: Option<String>,
    y_label: Option<String>,
    y_from_zero: bool,
}

impl LineChart {
    pub const WIDTH: f64 = 640.0;
    pub const HEIGHT: f64 = 280.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 44.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    /// Series with at most this many points get a marker per point.
    const MARKED_POINTS: usize = 60;

    /// `unit` names the y values ("ms", "bundles"; may be empty).
    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> Self {
        Self {
            frame: Frame::new(title, unit),
            series: Vec::new(),
            x_axis: XAxis::Linear,
            x_label: None,
            y_label: None,
            y_from_zero: false,
        }
    }

    frame_methods!();

    #[must_use]
    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    #[must_use]
    pub fn x_axis(mut self, axis: XAxis) -> Self {
        self.x_axis = axis;
        self
    }

    /// A title under the x axis ("step", "time (UTC)").
    #[must_use]
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = Some(label.into());
        self
    }

    /// A title beside the y axis.
    #[must_use]
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = Some(label.into());
        self
    }

    /// Start the y axis at 0 even when every value is far from it (counts).
    #[must_use]
    pub fn y_from_zero(mut self) -> Self {
        self.y_from_zero = true;
        self
    }

    pub fn render(&self) -> ChartHtml {
        let points: Vec<(f64, f64)> = self.series.iter().flat_map(Series::finite).collect();
        if points.is_empty() {
            return self.frame.empty_state("line");
        }
        let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in &points {
            x_min = x_min.min(x);
            x_max = x_max.max(x);
            y_min = y_min.min(y);
            y_max = y_max.max(y);
        }
        if self.y_from_zero {
            y_min = y_min.min(0.0);
            y_max = y_max.max(0.0);
        }
        let y_axis = Axis::nice(y_min, y_max, 5);
        let x_axis = match self.x_axis {
            XAxis::Linear => Axis::nice(x_min, x_max, 6),
            XAxis::Time => Axis::time(x_min, x_max, 6),
        };
        let (x0, x1) = (Self::LEFT, Self::WIDTH - Self::RIGHT);
        let (y0, y1) = (Self::TOP, Self::HEIGHT - Self::BOTTOM);
        let sx = |x: f64| x_axis.scale(x, x0, x1);
        let sy = |y: f64| y_axis.scale(y, y1, y0);

        let summary = self
            .series
            .iter()
            .filter_map(|s| {
                let pts: Vec<(f64, f64)> = s.finite().collect();
                let (first, last) = (pts.first()?, pts.last()?);
                let lo = pts.iter().map(|p| p.1).fold(f64::MAX, f64::min);
                let hi = pts.iter().map(|p| p.1).fold(f64::MIN, f64::max);
                Some(format!(
                    "{}: {} points from {} to {}, between {} and {}, last {}",
                    s.name,
                    pts.len(),
                    x_axis.label(first.0),
                    x_axis.label(last.0),
                    self.frame.amount(lo),
                    self.frame.amount(hi),
                    self.frame.amount(last.1)
                ))
            })
            .collect::<Vec<_>>()
            .join(". ");
        let id = chart_id("line", &self.frame.title, &summary);
        let mut out = String::new();
        self.frame.open(&mut out, "line");
        self.frame
            .svg_open(&mut out, &id, Self::WIDTH, Self::HEIGHT, false, &format!("{summary}."));
        out.push_str(r#"<g class="chart-axis" aria-hidden="true">"#);
        for t in y_axis.ticks() {
            let y = sy(t);
            let _ = write!(
                out,
                r#"<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="chart-tick" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>"#,
                num(x0),
                num(x1),
                num(y),
                num(y),
                num(x0 - 6.0),
                num(y),
                esc(&y_axis.label(t))
            );
        }
        for t in x_axis.ticks() {
            let x = sx(t);
            let _ = write!(
                out,
                r#"<line class="chart-grid chart-grid-x" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="chart-tick" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                num(x),
                num(x),
                num(y0),
                num(y1),
                num(x),
                num(y1 + 16.0),
                esc(&x_axis.label(t))
            );
        }
        let _ = write!(
            out,
            r#"<line class="chart-baseline" x1="{}" x2="{}" y1="{}" y2="{}"/><line class="chart-baseline" x1="{}" x2="{}" y1="{}" y2="{}"/>"#,
            num(x0),
            num(x1),
            num(y1),
            num(y1),
            num(x0),
            num(x0),
            num(y0),
            num(y1)
        );
        if let Some(l) = &self.x_label {
            let _ = write!(
                out,
                r#"<text class="chart-axis-title" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                num((x0 + x1) / 2.0),
                num(Self::HEIGHT - 6.0),
                esc(l)
            );
        }
        if let Some(l) = &self.y_label {
            let _ = write!(
                out,
                r#"<text class="chart-axis-title" x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
                num(12.0),
                num((y0 + y1) / 2.0),
                num(12.0),
                num((y0 + y1) / 2.0),
                esc(l)
            );
        }
        out.push_str("</g>");
        for (i, s) in self.series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = s.finite().collect();
            if pts.is_empty() {
                continue;
            }
            let tone = s.tone.unwrap_or(Tone::Series(i));
            let d = pts
                .iter()
                .enumerate()
                .map(|(k, &(x, y))| format!("{}{} {}", if k == 0 { "M" } else { "L" }, num(sx(x)), num(sy(y))))
                .collect::<String>();
            let _ = write!(
                out,
                r#"<g class="chart-series {}" data-series="{}"><path class="chart-line" d="{d}" fill="none"/>"#,
                tone.class(),
                esc(&s.name)
            );
            if pts.len() <= Self::MARKED_POINTS {
                for &(x, y) in &pts {
                    let _ = write!(
                        out,
                        r#"<circle class="chart-point chart-mark" cx="{}" cy="{}" r="3"><title>{}</title></circle>"#,
                        num(sx(x)),
                        num(sy(y)),
                        esc(&format!("{} at {}: {}", s.name, x_axis.label(x), self.frame.amount(y)))
                    );
                }
            }
            out.push_str("</g>");
        }
        out.push_str("</svg>");
        out.push_str(r#"<ul class="chart-legend" aria-hidden="true">"#);
        for (i, s) in self.series.iter().enumerate() {
            let tone = s.tone.unwrap_or(Tone::Series(i));
            let _ = write!(
                out,
                r#"<li><span class="chart-swatch chart-swatch-line {}"></span>{}</li>"#,
                tone.class(),
                esc(&s.name)
            );
        }
        out.push_str("</ul>");
        let rows: Vec<Vec<String>> = self
            .series
            .iter()
            .flat_map(|s| {
                s.finite()
                    .map(|(x, y)| vec![s.name.clone(), x_axis.label_precise(x), format_value(y)])
                    .collect::<Vec<_>>()
            })
            .collect();
        let x_head = self.x_label.clone().unwrap_or_else(|| "x".to_owned());
        let y_head = self.y_label.clone().unwrap_or_else(|| capitalize(&self.frame.unit));
        self.frame.table(&mut out, &["Series", &x_head, &y_head], &rows);
        out.push_str("</figure>");
        ChartHtml(out)
    }
}

/// A word-sized trend line to sit in text or a table cell: an `<svg role="img">`
/// whose label states the range and the last value.
#[derive(Debug, Clone)]
pub struct Sparkline {
    label: String,
    values: Vec<f64>,
    tone: Tone,
}

impl Sparkline {
    pub const WIDTH: f64 = 100.0;
    pub const HEIGHT: f64 = 24.0;

    /// `label` says what the values are ("Events per day, last 14 days").
    pub fn new(label: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            label: label.into(),
            values,
            tone: Tone::Accent,
        }
    }

    #[must_use]
    pub fn tone(mut self, tone: Tone) -> Self {
        self.tone = tone;
        self
    }

    pub fn render(&self) -> ChartHtml {
        let values: Vec<f64> = self.values.iter().copied().filter(|v| v.is_finite()).collect();
        let (Some(first), Some(last)) = (values.first(), values.last()) else {
            return ChartHtml(format!(
                r#"<span class="sparkline sparkline-empty" role="img" aria-label="{}: no data">—</span>"#,
                esc(&self.label)
            ));
        };
        let lo = values.iter().copied().fold(f64::MAX, f64::min);
        let hi = values.iter().copied().fold(f64::MIN, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let pad = 2.0;
        let step = if values.len() > 1 {
            (Self::WIDTH - 2.0 * pad) / (values.len() - 1) as f64
        } else {
            0.0
        };
        let y = |v: f64| {
            if hi > lo {
                Self::HEIGHT - pad - (v - lo) / span * (Self::HEIGHT - 2.0 * pad)
            } else {
                Self::HEIGHT / 2.0
            }
        };
        let d = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                format!(
                    "{}{} {}",
                    if i == 0 { "M" } else { "L" },
                    num(pad + step * i as f64),
                    num(y(v))
                )
            })
            .collect::<String>();
        let label = format!(
            "{}: {} values from {} to {}, first {}, last {}",
            self.label,
            values.len(),
            format_value(lo),
            format_value(hi),
            format_value(*first),
            format_value(*last)
        );
        let end_x = pad + step * (values.len() - 1) as f64;
        ChartHtml(format!(
            r#"<svg class="sparkline {}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" focusable="false"><title>{}</title><path class="chart-line" d="{d}" fill="none"/><circle class="chart-point" cx="{}" cy="{}" r="2"/></svg>"#,
            self.tone.class(),
            num(Self::WIDTH),
            num(Self::HEIGHT),
            num(Self::WIDTH),
            num(Self::HEIGHT),
            esc(&label),
            esc(&label),
            num(end_x),
            num(y(*last))
        ))
    }
}

/// A linked mark: `<a href aria-label>` around it, or the mark alone.
fn mark(out: &mut String, href: Option<&str>, name: &str, shape: &str) {
    match href {
        Some(h) => {
            let _ = write!(
                out,
                r#"<a class="chart-link" href="{}" aria-label="{}">{shape}</a>"#,
                esc(h),
                esc(name)
            );
        }
        None => out.push_str(shape),
    }
}

/// Segment labels in first-seen order (the legend of a stacked chart).
fn legend_of<'a>(data: impl Iterator<Item = &'a Datum>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in data {
        if !out.contains(&d.label) {
            out.push(d.label.clone());
        }
    }
    out
}

fn legend_html(out: &mut String, legend: &[String], bars: &[(String, Vec<Datum>)]) {
    out.push_str(r#"<ul class="chart-legend" aria-hidden="true">"#);
    for (i, label) in legend.iter().enumerate() {
        let tone = bars
            .iter()
            .flat_map(|(_, s)| s)
            .find(|d| &d.label == label)
            .and_then(|d| d.tone)
            .unwrap_or(Tone::Series(i));
        let _ = write!(
            out,
            r#"<li><span class="chart-swatch {}"></span>{}</li>"#,
            tone.class(),
            esc(label)
        );
    }
    out.push_str("</ul>");
}

/// An SVG arc path of a ring from fraction `a` to fraction `b` of a turn, starting at 12 o'clock.
fn arc(cx: f64, cy: f64, r: f64, a: f64, b: f64) -> String {
    let point = |t: f64| {
        let angle = t * std::f64::consts::TAU - std::f64::consts::FRAC_PI_2;
        (cx + r * angle.cos(), cy + r * angle.sin())
    };
    let (sx, sy) = point(a);
    let (ex, ey) = point(b);
    let large = u8::from(b - a > 0.5);
    format!(
        "M{} {} A{} {} 0 {large} 1 {} {}",
        num(sx),
        num(sy),
        num(r),
        num(r),
        num(ex),
        num(ey)
    )
}

/// An axis: its range rounded out to "nice" tick values.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    min: f64,
    max: f64,
    step: f64,
    time: bool,
}

impl Axis {
    /// Ticks at 1, 2 or 5 × 10ⁿ, about `count` of them, covering `[lo, hi]`.
    fn nice(lo: f64, hi: f64, count: usize) -> Self {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else if lo == 0.0 {
            (0.0, 1.0)
        } else {
            // One value: a band around it.
            let pad = lo.abs() * 0.1;
            (lo - pad, hi + pad)
        };
        let step = nice_step((hi - lo) / count.max(1) as f64);
        Self {
            min: (lo / step).floor() * step,
            max: (hi / step).ceil() * step,
            step,
            time: false,
        }
    }

    /// Ticks on round times (seconds … days) for epoch-millisecond values.
    fn time(lo: f64, hi: f64, count: usize) -> Self {
        const STEPS: [f64; 17] = [
            1e3,
            5e3,
            15e3,
            30e3,
            60e3,
            300e3,
            900e3,
            1_800e3,
            3_600e3,
            10_800e3,
            21_600e3,
            43_200e3,
            86_400e3,
            172_800e3,
            604_800e3,
            1_209_600e3,
            2_592_000e3,
        ];
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 30e3, hi + 30e3) };
        let raw = (hi - lo) / count.max(1) as f64;
        let step = STEPS
            .iter()
            .copied()
            .find(|s| *s >= raw)
            .unwrap_or_else(|| nice_step(raw));
        Self {
            min: (lo / step).floor() * step,
            max: (hi / step).ceil() * step,
            step,
            time: true,
        }
    }

    fn ticks(&self) -> Vec<f64> {
        let n = ((self.max - self.min) / self.step).round() as i64;
        (0..=n.clamp(0, 50)).map(|i| self.min + self.step * i as f64).collect()
    }

    /// Map `v` from the axis range onto `[from, to]` (pixels).
    fn scale(&self, v: f64, from: f64, to: f64) -> f64 {
        let span = self.max - self.min;
        if span <= 0.0 {
            return from;
        }
        from + (v - self.min) / span * (to - from)
    }

    fn label(&self, v: f64) -> String {
        if self.time {
            let fmt = if self.step >= 86_400e3 {
                time::macros::format_description!("[month]-[day]")
            } else if self.step >= 60e3 {
                time::macros::format_description!("[hour]:[minute]")
            } else {
                time::macros::format_description!("[hour]:[minute]:[second]")
            };
            return format_time(v, fmt);
        }
        // As many decimals as the step needs (0.025 needs three), never more.
        let decimals = (0..=6)
            .find(|d| {
                let scaled = self.step * 10f64.powi(*d);
                (scaled - scaled.round()).abs() < 1e-6
            })
            .unwrap_or(6) as usize;
        compact(v, decimals)
    }

    /// For the data table: times in full.
    fn label_precise(&self, v: f64) -> String {
        if self.time {
            return format_time(
                v,
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC"),
            );
        }
        format_value(v)
    }
}

fn format_time(ms: f64, fmt: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(fmt).ok())
        .unwrap_or_else(|| format_value(ms))
}

/// The nice number (1, 2, 2.5 or 5 × 10ⁿ) nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 2.5 {
        2.5
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Tick labels: `12k` and `1.5M` for big numbers, else `decimals` places.
fn compact(v: f64, decimals: usize) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(&format!("{:.1}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(&format!("{:.1}", v / 1e3)))
    } else {
        let text = format!("{v:.decimals$}");
        if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
            text[1..].to_owned()
        } else {
            text
        }
    }
}

/// A value as a person reads it: whole numbers plainly, others to 4 significant digits.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let digits = 4 - (v.abs().log10().floor() as i32 + 1);
    let decimals = digits.clamp(0, 12) as usize;
    trim(&format!("{v:.decimals$}"))
}

fn trim(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text.to_owned()
    }
}

fn percent(v: f64, total: f64) -> String {
    if total <= 0.0 {
        return "0%".into();
    }
    let p = v / total * 100.0;
    if p > 0.0 && p < 1.0 {
        "<1%".into()
    } else {
        format!("{}%", p.round())
    }
}

/// Coordinates with at most one decimal (enough for a viewBox of a few hundred units).
pub(crate) fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == 0.0 {
        return "0".into();
    }
    trim(&format!("{r:.1}"))
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Text for SVG and HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An id for `aria-labelledby`: a digest of the chart's kind, title and summary, so
/// that the same page renders the same markup every time (snapshots stay stable)
/// and different charts on one page get different ids.
fn chart_id(kind: &str, title: &str, summary: &str) -> String {
    let mut h = blake3::Hasher::new();
    for part in [kind, title, summary] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    format!("chart-{kind}-{}", &h.finalize().to_hex()[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of attribute `name` on elements whose class list holds `class`.
    fn attrs(svg: &str, class: &str, name: &str) -> Vec<String> {
        svg.split('<')
            .filter(|tag| {
                tag.split_once("class=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .is_some_and(|(classes, _)| classes.split(' ').any(|c| c == class))
            })
            .filter_map(|tag| {
                let key = format!(" {name}=\"");
                let start = tag.find(&key)? + key.len();
                Some(tag[start..].split('"').next()?.to_owned())
            })
            .collect()
    }

    fn numbers(values: &[String]) -> Vec<f64> {
        values.iter().map(|v| v.parse().unwrap()).collect()
    }

    fn hrefs(html: &str) -> Vec<String> {
        html.split("<a ")
            .skip(1)
            .filter_map(|a| {
                a.split_once("href=\"")
                    .map(|(_, r)| r.split('"').next().unwrap_or("").to_owned())
            })
            .collect()
    }

    #[test]
    fn a_bar_chart_draws_one_bar_per_datum_with_heights_in_proportion_and_links() {
        let html = BarChart::new("Bundles by state", "bundles")
            .bar(Datum::new("Active", 10.0).href("/bundles?state=active"))
            .bar(Datum::new("Complete", 5.0).href("/bundles?state=complete"))
            .bar(Datum::new("Archived", 0.0).href("/bundles?state=archived"))
            .render();
        let html = html.as_str();
        let heights = numbers(&attrs(html, "chart-bar", "height"));
        assert_eq!(heights.len(), 3, "one bar per datum: {html}");
        // The axis tops out at 10, so the bar of 10 fills the plot and 5 is half of it.
        assert_eq!(heights[0], BarChart::PLOT_HEIGHT);
        assert_eq!(heights[1], BarChart::PLOT_HEIGHT / 2.0);
        assert_eq!(heights[2], 0.0);
        assert_eq!(
            hrefs(html),
            [
                "/bundles?state=active",
                "/bundles?state=complete",
                "/bundles?state=archived"
            ]
        );
        assert!(html.contains(r#"aria-label="Active: 10 bundles""#), "{html}");
        assert!(
            html.contains(r#"role="group""#),
            "linked marks make a group, not an image"
        );
        assert!(html.contains("<title id=\"chart-bar-"));
        // The hidden table has the same numbers.
        assert!(html.contains(r#"<th scope="row">Complete</th><td>5</td>"#), "{html}");
    }

    #[test]
    fn bars_without_links_are_one_image() {
        let html = BarChart::new("Sizes", "").bar(Datum::new("a", 1.0)).render();
        assert!(html.as_str().contains(r#"role="img""#));
        assert!(hrefs(html.as_str()).is_empty());
    }

    #[test]
    fn empty_data_renders_the_empty_state_and_no_svg() {
        for html in [
            BarChart::new("Bundles", "bundles").empty("No bundles yet.").render(),
            BarChart::new("Bundles", "bundles")
                .empty("No bundles yet.")
                .bar(Datum::new("Active", 0.0))
                .render(),
            HBarChart::new("Bundles", "bundles").empty("No bundles yet.").render(),
            DonutChart::new("Bundles", "bundles").empty("No bundles yet.").render(),
            LineChart::new("Bundles", "bundles")
                .empty("No bundles yet.")
                .series(Series::new("s", vec![(1.0, f64::NAN)]))
                .render(),
        ] {
            let html = html.as_str();
            assert!(html.contains("data-chart-empty"), "{html}");
            assert!(html.contains("No bundles yet."));
            assert!(!html.contains("<svg"), "{html}");
            assert!(html.contains(r#"<figcaption class="chart-caption">Bundles</figcaption>"#));
        }
    }

    #[test]
    fn stacked_bars_stack_and_colour_each_label_the_same_everywhere() {
        let html = BarChart::new("Classification", "bundles")
            .stack(
                "Model risk",
                vec![Datum::new("High", 2.0), Datum::new("Low", 6.0).href("/b?c=Low")],
            )
            .stack("Vendor", vec![Datum::new("Low", 4.0), Datum::new("High", 4.0)])
            .render();
        let html = html.as_str();
        assert!(html.contains(r#"data-chart="stacked""#));
        let heights = numbers(&attrs(html, "chart-bar", "height"));
        assert_eq!(heights.len(), 4);
        // Both bars total 8, the axis top: each fills the plot.
        assert_eq!(heights[0] + heights[1], BarChart::PLOT_HEIGHT);
        assert_eq!(heights[2] + heights[3], BarChart::PLOT_HEIGHT);
        assert_eq!(heights[0] * 3.0, heights[1]);
        // "High" is series-0 and "Low" series-1 on both bars, whatever their order.
        assert_eq!(attrs(html, "series-0", "data-value"), ["2", "4"]);
        assert_eq!(attrs(html, "series-1", "data-value"), ["6", "4"]);
        assert!(html.contains(r#"<ul class="chart-legend""#));
        assert!(html.contains(r#"aria-label="Model risk, Low: 6 bundles""#));
        assert!(
            html.contains(r#"<th scope="row">Vendor</th><td>High</td><td>4</td>"#),
            "{html}"
        );
    }

    #[test]
    fn labels_and_links_are_escaped() {
        let html = HBarChart::new("<b>x</b>", "items")
            .row(Datum::new(r#"a "quoted" <label>"#, 3.0).href("/x?a=1&b=2"))
            .render();
        let html = html.as_str();
        assert!(!html.contains("<b>"));
        assert!(!html.contains("<label>"));
        assert!(html.contains("&lt;label&gt;"));
        assert!(html.contains(r#"href="/x?a=1&amp;b=2""#));
    }

    #[test]
    fn horizontal_bars_scale_to_the_largest_and_group_under_headings() {
        let html = HBarChart::new("Active bundles by stage", "bundles")
            .group(
                "Model risk",
                vec![
                    Datum::new("Intake", 4.0).href("/bundles?stage=Intake"),
                    Datum::new("Validation", 8.0),
                ],
            )
            .group("Vendor", vec![Datum::new("Review", 2.0)])
            .render();
        let html = html.as_str();
        let widths = numbers(&attrs(html, "chart-bar", "width"));
        assert_eq!(
            widths,
            [
                HBarChart::PLOT_WIDTH / 2.0,
                HBarChart::PLOT_WIDTH,
                HBarChart::PLOT_WIDTH / 4.0
            ]
        );
        assert_eq!(attrs(html, "chart-group", "x").len(), 2, "a heading per group");
        assert!(html.contains(r#"aria-label="Model risk, Intake: 4 bundles""#));
        assert!(
            html.contains(r#"<th scope="row">Model risk</th><td>Intake</td><td>4</td>"#),
            "{html}"
        );
    }

    #[test]
    fn a_donut_splits_the_turn_in_proportion_and_its_legend_links() {
        let html = DonutChart::new("Bundles by state", "bundles")
            .part(Datum::new("Active", 3.0).href("/bundles?state=active"))
            .part(Datum::new("Complete", 1.0).href("/bundles?state=complete"))
            .part(Datum::new("Archived", 0.0))
            .render();
        let html = html.as_str();
        let slices = attrs(html, "chart-slice", "d");
        assert_eq!(slices.len(), 2, "a zero part draws no slice");
        // Three quarters from 12 o'clock end at 9 o'clock, with the large-arc flag.
        assert!(slices[0].contains(" 0 1 1 "), "{}", slices[0]);
        assert!(slices[1].contains(" 0 0 1 "), "{}", slices[1]);
        assert!(html.contains(r#"<text class="chart-total" "#));
        assert!(html.contains(">4</text>"), "the total sits in the middle");
        assert!(
            html.contains(r#"<li><a href="/bundles?state=active" aria-label="Active: 3 bundles">"#),
            "{html}"
        );
        assert!(html.contains("<td>75%</td>"));
    }

    #[test]
    fn a_single_part_donut_is_a_whole_ring() {
        let html = DonutChart::new("All", "bundles")
            .part(Datum::new("Active", 2.0))
            .render();
        assert_eq!(attrs(html.as_str(), "chart-slice", "r").len(), 1);
    }

    #[test]
    fn a_line_chart_draws_each_series_with_axes_and_ticks() {
        let html = LineChart::new("Loss", "")
            .x_label("step")
            .y_label("loss")
            .series(Series::new("train", vec![(0.0, 1.0), (1.0, 0.5), (2.0, 0.25)]))
            .series(Series::new("validation", vec![(0.0, 1.2), (2.0, f64::NAN), (3.0, 0.4)]))
            .render();
        let html = html.as_str();
        let paths = attrs(html, "chart-line", "d");
        assert_eq!(paths.len(), 2, "one line per series");
        assert_eq!(paths[0].matches('L').count(), 2, "three points, two segments");
        assert_eq!(paths[1].matches('L').count(), 1, "the NaN point is left out");
        assert_eq!(attrs(html, "chart-point", "cx").len(), 5);
        let ticks: Vec<&str> = html
            .split(r#"<text class="chart-tick""#)
            .skip(1)
            .filter_map(|t| t.split_once('>').map(|(_, r)| r.split('<').next().unwrap_or("")))
            .collect();
        assert!(
            ticks.contains(&"0.2") && ticks.contains(&"1.2"),
            "y ticks at nice values: {ticks:?}"
        );
        assert!(
            ticks.contains(&"0.0") && ticks.contains(&"3.0"),
            "x ticks every 0.5: {ticks:?}"
        );
        assert!(html.contains(">step</text>") && html.contains(">loss</text>"));
        assert!(html.contains(r#"data-series="validation""#));
        assert!(
            html.contains(r#"<th scope="row">validation</th><td>3</td><td>0.4</td>"#),
            "{html}"
        );
    }

    #[test]
    fn a_time_axis_labels_dates() {
        let day = 86_400_000.0;
        let start = 1_767_225_600_000.0; // 2026-01-01T00:00:00Z
        let html = LineChart::new("Events per day", "events")
            .x_axis(XAxis::Time)
            .y_from_zero()
            .series(Series::new(
                "events",
                (0..14).map(|i| (start + day * f64::from(i), 5.0)).collect(),
            ))
            .render();
        let html = html.as_str();
        assert!(html.contains(">01-01</text>"), "{html}");
        assert!(html.contains("<td>2026-01-03 00:00:00 UTC</td>"));
    }

    #[test]
    fn a_sparkline_states_its_range() {
        let html = Sparkline::new("Events per day", vec![1.0, 3.0, 2.0]).render();
        let html = html.as_str();
        assert!(html.starts_with("<svg class=\"sparkline"));
        assert!(
            html.contains(r#"aria-label="Events per day: 3 values from 1 to 3, first 1, last 2""#),
            "{html}"
        );
        assert_eq!(attrs(html, "chart-line", "d")[0].matches('L').count(), 2);
        let empty = Sparkline::new("Events", vec![]).render();
        assert!(empty.as_str().contains("no data"));
    }

    #[test]
    fn ticks_are_nice_numbers() {
        let a = Axis::nice(0.0, 97.0, 5);
        assert_eq!((a.min, a.max, a.step), (0.0, 100.0, 20.0));
        assert_eq!(a.ticks(), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let a = Axis::nice(0.0, 3.0, 5);
        assert_eq!(a.step, 1.0);
        let a = Axis::nice(0.81, 0.93, 5);
        assert!((a.step - 0.025).abs() < 1e-12, "{a:?}");
        assert_eq!(a.label(0.825), "0.825");
        let a = Axis::nice(7.0, 7.0, 5);
        assert!(a.min < 7.0 && a.max > 7.0, "one value gets a band around it: {a:?}");
        assert_eq!(Axis::nice(0.0, 0.0, 5).max, 1.0);
    }

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(format_value(12.0), "12");
        assert_eq!(format_value(0.873_456), "0.8735");
        assert_eq!(format_value(1234.567), "1235");
        assert_eq!(format_value(f64::NAN), "—");
        assert_eq!(compact(25_000.0, 0), "25k");
        assert_eq!(compact(1_500_000.0, 0), "1.5M");
        assert_eq!(num(-0.01), "0");
        assert_eq!(percent(1.0, 300.0), "<1%");
    }

    #[test]
    fn the_same_chart_renders_the_same_markup_and_other_charts_other_ids() {
        let a = BarChart::new("a", "").bar(Datum::new("x", 1.0)).render();
        let b = BarChart::new("a", "").bar(Datum::new("x", 1.0)).render();
        let c = BarChart::new("b", "").bar(Datum::new("x", 1.0)).render();
        assert_eq!(a, b);
        let id = |h: &ChartHtml| attrs(h.as_str(), "chart-svg", "aria-labelledby");
        assert_ne!(id(&a), id(&c));
    }
}
