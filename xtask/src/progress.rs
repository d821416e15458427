//! What a long task is doing, on stderr: a progress bar or spinner per stage on a terminal
//! (indicatif), plain lines elsewhere (a pipe, a log file, or `CI` set), so a regen that runs for
//! minutes says what it waits for. stdout stays free for the task's report.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How stages are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bars and spinners redrawn in place, each stage leaving one summary line.
    Terminal,
    /// One line when a stage starts, one when it ends.
    Lines,
}

/// The progress reporter of one task; shared (`Arc`) with the typer and the gate.
#[derive(Debug)]
pub struct Progress {
    task: &'static str,
    mode: Mode,
    started: Instant,
}

impl Progress {
    /// Bars when stderr is a terminal and `CI` is not set; lines otherwise.
    pub fn for_stderr(task: &'static str) -> Self {
        let terminal = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Self::new(
            task,
            if terminal {
                Mode::Terminal
            } else {
                Mode::Lines
            },
        )
    }

    /// Plain lines whatever stderr is (tests run regen in process).
    #[cfg(test)]
    pub fn lines(task: &'static str) -> Self {
        Self::new(task, Mode::Lines)
    }

    fn new(task: &'static str, mode: Mode) -> Self {
        Self {
            task,
            mode,
            started: Instant::now(),
        }
    }

    /// One line about the task (`regen: ...`).
    pub fn note(&self, message: impl std::fmt::Display) {
        eprintln!("{}: {message}", self.task);
    }

    /// A stage of `steps` steps; [`Stage::step`] after each, [`Stage::done`] at the end.
    pub fn counted(&self, steps: u64, message: impl Into<String>) -> Stage {
        let message = message.into();
        let bar = match self.mode {
            Mode::Terminal => {
                let bar = ProgressBar::new(steps);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix}: [{bar:25}] {pos}/{len} {elapsed:>3} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                Some(bar)
            }
            Mode::Lines => None,
        };
        self.start(bar, message)
    }

    /// A stage whose length is unknown (a `cargo check`): a spinner with the time spent.
    pub fn waiting(&self, message: impl Into<String>) -> Stage {
        let message = message.into();
        let bar = match self.mode {
            Mode::Terminal => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}: {elapsed:>3} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                Some(bar)
            }
            Mode::Lines => None,
        };
        self.start(bar, message)
    }

    fn start(&self, bar: Option<ProgressBar>, message: String) -> Stage {
        // Prefix and message set before the first draw, so no frame shows them empty.
        let bar = bar.map(|bar| bar.with_prefix(self.task).with_message(message.clone()));
        match &bar {
            Some(bar) => bar.enable_steady_tick(Duration::from_millis(120)),
            None => self.note(format!("{message} ...")),
        }
        Stage {
            task: self.task,
            bar,
            started: Instant::now(),
        }
    }

    /// Time since the task started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// One stage in progress. Dropped without [`Stage::done`] (an error), it clears its bar.
#[derive(Debug)]
pub struct Stage {
    task: &'static str,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Stage {
    /// One more step done (from any thread).
    pub fn step(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Ends the stage with a summary line and the time it took.
    pub fn done(self, summary: impl std::fmt::Display) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!(
            "{}: {summary} ({})",
            self.task,
            seconds(self.started.elapsed())
        );
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `0.4 s`, `12.3 s`, `5 min 13 s`.
pub fn seconds(time: Duration) -> String {
    let secs = time.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{} min {} s", time.as_secs() / 60, time.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(seconds(Duration::from_millis(420)), "0.4 s");
        assert_eq!(seconds(Duration::from_secs(313)), "5 min 13 s");
    }
}
