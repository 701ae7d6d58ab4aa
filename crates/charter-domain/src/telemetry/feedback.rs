//! Feedback annotations on spans and traces (Phoenix's shape: `name`,
//! `annotator_kind`, `result{label, score, explanation}`, `metadata`, `identifier`),
//! and what counts as negative feedback.

/// Who made an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnotatorKind {
    Human,
    Llm,
    Code,
}

impl AnnotatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotatorKind::Human => "HUMAN",
            AnnotatorKind::Llm => "LLM",
            AnnotatorKind::Code => "CODE",
        }
    }

    /// `HUMAN`, `LLM` or `CODE`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "HUMAN" => Some(AnnotatorKind::Human),
            "LLM" => Some(AnnotatorKind::Llm),
            "CODE" => Some(AnnotatorKind::Code),
            _ => None,
        }
    }
}

/// Labels read as a thumbs down (compared without case; `-`, ` ` and `_` alike).
const NEGATIVE_LABELS: [&str; 12] = [
    "thumbs_down",
    "thumbsdown",
    "down",
    "negative",
    "bad",
    "incorrect",
    "wrong",
    "unhelpful",
    "not_helpful",
    "dislike",
    "no",
    "👎",
];

/// Whether a feedback result is negative: a score below 0.5 (scores are read on a
/// 0–1 scale, as thumbs up = 1 and thumbs down = 0), or, without a score, a label
/// such as `thumbs_down`, `negative`, `bad` or `incorrect`.
pub fn is_negative(label: Option<&str>, score: Option<f64>) -> bool {
    if let Some(score) = score.filter(|s| s.is_finite()) {
        return score < 0.5;
    }
    label.is_some_and(|l| {
        let l = l.trim().to_lowercase().replace(['-', ' '], "_");
        NEGATIVE_LABELS.contains(&l.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbs_down_in_the_usual_spellings_is_negative() {
        assert!(is_negative(Some("Thumbs-Down"), None));
        assert!(is_negative(Some("thumbs down"), None));
        assert!(is_negative(Some("👎"), None));
        assert!(!is_negative(Some("thumbs_up"), None));
        assert!(!is_negative(None, None));
    }

    #[test]
    fn a_score_decides_over_the_label() {
        assert!(is_negative(Some("thumbs_up"), Some(0.0)));
        assert!(!is_negative(Some("thumbs_down"), Some(1.0)));
        assert!(!is_negative(Some("ok"), Some(0.5)));
    }

    #[test]
    fn annotator_kinds_parse_in_any_case() {
        assert_eq!(AnnotatorKind::parse("human"), Some(AnnotatorKind::Human));
        assert_eq!(AnnotatorKind::parse("LLM"), Some(AnnotatorKind::Llm));
        assert_eq!(AnnotatorKind::parse("robot"), None);
    }
}
