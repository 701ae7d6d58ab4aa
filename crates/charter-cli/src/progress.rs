//! Progress for long work: a bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Progress reporting that suits where the output goes.
pub enum Progress {
    Bar(ProgressBar),
    Lines {
        label: String,
        total: Option<u64>,
        last: Instant,
    },
}

impl Progress {
    /// Progress over `total` units (`None` when unknown) of `label` work.
    pub fn new(label: &str, total: Option<u64>) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(n) => ProgressBar::new(n).with_style(
                    ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
                        .expect("static template")
                        .progress_chars("=> "),
                ),
                None => ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{spinner} {msg} {pos} ({per_sec})").expect("static template"),
                ),
            };
            bar.set_message(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            Progress::Bar(bar)
        } else {
            eprintln!("{label}…");
            Progress::Lines {
                label: label.to_owned(),
                total,
                last: Instant::now(),
            }
        }
    }

    /// Set how far the work has come.
    pub fn set(&mut self, done: u64) {
        match self {
            Progress::Bar(bar) => bar.set_position(done),
            Progress::Lines { label, total, last } => {
                if last.elapsed() >= Duration::from_secs(2) {
                    match total {
                        Some(t) => eprintln!("{label}: {done}/{t}"),
                        None => eprintln!("{label}: {done}"),
                    }
                    *last = Instant::now();
                }
            }
        }
    }

    pub fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
