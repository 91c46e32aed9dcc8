//! Progress on standard error for long-running commands: nothing for the
//! first second (short runs stay quiet), then a bar with a message; never
//! anything when standard error is not a terminal, so logs and CI output
//! stay clean. Any command can use it; probes report progress through
//! callbacks and never touch the terminal themselves.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run must last before progress appears.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);
/// Bar resolution: positions per full bar.
const BAR_LENGTH: u64 = 1000;

/// A progress display that appears only for runs longer than [`SHOW_AFTER`].
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    start: Instant,
    bar: RefCell<Option<ProgressBar>>,
}

impl Progress {
    /// Progress on standard error, enabled only when it is a terminal.
    pub fn stderr() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    /// Progress that never shows.
    pub fn hidden() -> Progress {
        Progress::new(false)
    }

    fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            start: Instant::now(),
            bar: RefCell::new(None),
        }
    }

    /// True once the bar is on screen.
    pub fn is_visible(&self) -> bool {
        self.bar.borrow().is_some()
    }

    /// Moves the bar to `fraction` (0..=1) with the message `message()`
    /// (only built when shown).
    pub fn update(&self, fraction: f64, message: impl FnOnce() -> String) {
        if !self.enabled || self.start.elapsed() < SHOW_AFTER {
            return;
        }
        let mut bar = self.bar.borrow_mut();
        let bar = bar.get_or_insert_with(new_bar);
        bar.set_position((fraction.clamp(0.0, 1.0) * BAR_LENGTH as f64) as u64);
        bar.set_message(message());
    }

    /// Removes the bar from the screen.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(BAR_LENGTH), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bar:30} {msg}")
            .expect("constant template is valid"),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_progress_never_shows() {
        let p = Progress::hidden();
        p.update(0.5, || unreachable!("message is not built when hidden"));
        assert!(!p.is_visible());
    }

    #[test]
    fn enabled_progress_waits_a_second() {
        let p = Progress::new(true);
        p.update(0.1, || unreachable!("not shown before SHOW_AFTER"));
        assert!(!p.is_visible());
    }
}
