//! Statistics over spans: latency histograms (percentiles without keeping every
//! value), windowed totals, and cost from a per-model price table.
//!
//! Latencies are counted in logarithmic buckets 5 % wide, assigned at ingest
//! ([`latency_bucket`]) and stored with each span, so the database can count spans
//! per bucket (`GROUP BY`) on either backend; a percentile read from the counts is
//! within 2.5 % of the exact value.

use std::collections::BTreeMap;

/// The lower edge of bucket 1, in milliseconds; bucket 0 holds everything up to it.
const BASE_MS: f64 = 0.01;
/// Each bucket is this much wider than the one before.
const GROWTH: f64 = 1.05;
/// The last bucket (about 600 days): everything longer lands here.
pub const MAX_BUCKET: i64 = 700;

/// The histogram bucket of a latency.
pub fn latency_bucket(latency_ms: f64) -> i64 {
    if latency_ms.is_nan() || latency_ms <= BASE_MS {
        return 0;
    }
    let b = ((latency_ms / BASE_MS).ln() / GROWTH.ln()).ceil() as i64;
    b.clamp(1, MAX_BUCKET)
}

/// The value that stands for a bucket: the geometric middle of its edges.
pub fn bucket_value_ms(bucket: i64) -> f64 {
    if bucket <= 0 {
        return 0.0;
    }
    BASE_MS * GROWTH.powf(bucket as f64 - 0.5)
}

/// Counts of latencies per bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyHistogram {
    counts: BTreeMap<i64, u64>,
    total: u64,
}

impl LatencyHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    /// Count `n` latencies in `bucket`.
    pub fn add(&mut self, bucket: i64, n: u64) {
        if n == 0 {
            return;
        }
        *self.counts.entry(bucket.clamp(0, MAX_BUCKET)).or_default() += n;
        self.total += n;
    }

    /// Count one latency.
    pub fn record_ms(&mut self, latency_ms: f64) {
        self.add(latency_bucket(latency_ms), 1);
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (b, n) in &other.counts {
            self.add(*b, *n);
        }
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0 < q ≤ 1) in milliseconds, `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, n) in &self.counts {
            seen += n;
            if seen >= rank {
                return Some(bucket_value_ms(*bucket));
            }
        }
        self.counts.keys().next_back().map(|b| bucket_value_ms(*b))
    }
}

/// A model's price, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// Prices by model name. A model without an exact entry takes the longest entry its
/// name starts with (`gpt-4o-mini` prices `gpt-4o-mini-2024-07-18`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable(BTreeMap<String, Price>);

impl PriceTable {
    pub fn new(prices: BTreeMap<String, Price>) -> Self {
        Self(prices)
    }

    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.0.get(model) {
            return Some(*p);
        }
        self.0
            .iter()
            .filter(|(k, _)| model.starts_with(k.as_str()))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, p)| *p)
    }

    /// What `prompt` and `completion` tokens of `model` cost, if it has a price.
    pub fn cost(&self, model: &str, prompt: i64, completion: i64) -> Option<f64> {
        self.price(model)
            .map(|p| (prompt as f64 * p.input_per_million + completion as f64 * p.output_per_million) / 1e6)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Totals over a window of time: what charts plot per bucket and what monitor
/// conditions read.
///
/// Request-level figures (`trace_count`, `error_count`, latency) count root spans —
/// one per request — unless the query named a span kind, in which case they count
/// the spans of that kind. Token and cost figures add up every span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    pub span_count: i64,
    pub trace_count: i64,
    pub error_count: i64,
    pub span_error_count: i64,
    pub latency: LatencyHistogram,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: f64,
    /// Human feedback annotations received in the window.
    pub feedback_count: i64,
    pub negative_feedback_count: i64,
}

fn ratio(a: i64, b: i64) -> f64 {
    if b > 0 { a as f64 / b as f64 } else { 0.0 }
}

impl WindowStats {
    /// Errors among requests (0 without requests).
    pub fn error_rate(&self) -> f64 {
        ratio(self.error_count, self.trace_count)
    }

    pub fn span_error_rate(&self) -> f64 {
        ratio(self.span_error_count, self.span_count)
    }

    /// Negative among human feedback (0 without feedback).
    pub fn negative_feedback_rate(&self) -> f64 {
        ratio(self.negative_feedback_count, self.feedback_count)
    }

    /// A latency percentile (`p` = 50, 95, 99) in milliseconds; 0 without requests.
    pub fn latency_ms(&self, p: f64) -> f64 {
        self.latency.quantile_ms(p / 100.0).unwrap_or(0.0)
    }

    /// Add another window's figures (e.g. buckets into a total).
    pub fn merge(&mut self, other: &WindowStats) {
        self.span_count += other.span_count;
        self.trace_count += other.trace_count;
        self.error_count += other.error_count;
        self.span_error_count += other.span_error_count;
        self.latency.merge(&other.latency);
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.cost_usd += other.cost_usd;
        self.feedback_count += other.feedback_count;
        self.negative_feedback_count += other.negative_feedback_count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_the_bucket_width() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=1000 {
            h.record_ms(ms as f64);
        }
        for (q, exact) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = h.quantile_ms(q).unwrap();
            assert!((got - exact).abs() / exact < 0.026, "q{q}: {got} vs {exact}");
        }
        assert_eq!(LatencyHistogram::new().quantile_ms(0.5), None);
    }

    #[test]
    fn tiny_and_huge_latencies_have_buckets() {
        assert_eq!(latency_bucket(0.0), 0);
        assert_eq!(latency_bucket(-3.0), 0);
        assert_eq!(latency_bucket(f64::NAN), 0);
        assert_eq!(latency_bucket(1e30), MAX_BUCKET);
        let b = latency_bucket(2000.0);
        assert!(bucket_value_ms(b) > 1950.0 && bucket_value_ms(b) < 2050.0);
    }

    #[test]
    fn prices_match_exactly_or_by_longest_prefix() {
        let table = PriceTable::new(BTreeMap::from([
            (
                "gpt-4o".to_owned(),
                Price {
                    input_per_million: 2.5,
                    output_per_million: 10.0,
                },
            ),
            (
                "gpt-4o-mini".to_owned(),
                Price {
                    input_per_million: 0.15,
                    output_per_million: 0.6,
                },
            ),
        ]));
        let c = table.cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000).unwrap();
        assert!((c - 0.75).abs() < 1e-9, "{c}");
        assert!((table.cost("gpt-4o", 2_000, 0).unwrap() - 0.005).abs() < 1e-12);
        assert_eq!(table.cost("claude", 1, 1), None);
    }

    #[test]
    fn rates_are_zero_without_data() {
        let s = WindowStats::default();
        assert_eq!(
            (s.error_rate(), s.negative_feedback_rate(), s.latency_ms(95.0)),
            (0.0, 0.0, 0.0)
        );
        let s = WindowStats {
            trace_count: 20,
            error_count: 3,
            feedback_count: 4,
            negative_feedback_count: 1,
            ..WindowStats::default()
        };
        assert!((s.error_rate() - 0.15).abs() < 1e-12);
        assert!((s.negative_feedback_rate() - 0.25).abs() < 1e-12);
    }
}
