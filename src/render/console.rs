//! How `mnist train` looks on the console: the observer of a training run.
//!
//! On a terminal: a live progress line per epoch, replaced by the epoch's summary line when it
//! ends. Otherwise (CI, `> log`, `| tee`): only the summary lines, fixed width, no escape codes.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mnist_trainer::run::metrics::EpochRecord;
use mnist_trainer::run::plan::display_path;
use mnist_trainer::training::observer::{Progress, RunStart, TrainObserver};

pub const HEADER: &str = "epoch  train_loss  train_acc  valid_loss  valid_acc  seconds";

/// The fixed-width line printed per epoch, aligned with [`HEADER`].
pub fn epoch_line(r: &EpochRecord, total_epochs: usize) -> String {
    let epoch = format!("{}/{}", r.epoch, total_epochs);
    format!(
        "{epoch:>5}  {:>10.4}  {:>8.2}%  {:>10.4}  {:>8.2}%  {:>7.1}",
        r.train_loss,
        100.0 * r.train_acc,
        r.valid_loss,
        100.0 * r.valid_acc,
        r.seconds
    )
}

/// `width` cells, the share `done / total` of them filled; full (not an overflow) when a loader
/// reports more items than it announced, empty for a total of 0.
fn progress_bar(done: usize, total: usize, width: usize) -> String {
    let filled = done
        .min(total)
        .saturating_mul(width)
        .checked_div(total)
        .unwrap_or(0);
    "#".repeat(filled) + &" ".repeat(width - filled)
}

/// Prints a training run.
pub struct Console {
    terminal: bool,
    /// When the progress line was last drawn (redrawn at most every 100 ms).
    last_draw: Mutex<Option<Instant>>,
}

impl Console {
    pub fn new() -> Self {
        Self {
            terminal: std::io::stdout().is_terminal(),
            last_draw: Mutex::new(None),
        }
    }

    /// Erases the progress line, on a terminal.
    fn clear_line(&self) {
        if self.terminal {
            print!("\r\x1b[2K");
        }
    }
}

impl TrainObserver for Console {
    fn started(&self, s: &RunStart) {
        println!("backend    {}", s.backend);
        println!("run        {}", display_path(&s.run_dir));
        println!(
            "data       {} ({} train, {} test)",
            display_path(&s.data),
            s.train_images,
            s.test_images
        );
        println!(
            "model      {}, {} parameters",
            s.model_name,
            mnist_models::grouped(s.model.params())
        );
        print!("{}", super::model_layers(&s.model));
        println!("training   {}", s.training);
        println!("validation {}", s.validation);
        if s.resumed_after > 0 {
            println!("resuming   after epoch {} of {}", s.resumed_after, s.epochs);
        }
        println!("{HEADER}");
    }

    fn progress(&self, p: &Progress) {
        if !self.terminal {
            return;
        }
        let now = Instant::now();
        let Ok(mut last) = self.last_draw.lock() else {
            return;
        };
        let recent = last.is_some_and(|t| now - t < Duration::from_millis(100));
        if recent && p.items_done < p.items_total {
            return;
        }
        *last = Some(now);
        let bar = progress_bar(p.items_done, p.items_total, 30);
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\r\x1b[2Kepoch {}/{} {:<5} [{bar}] {}/{} loss {:.4} acc {:.2}%",
            p.epoch,
            p.epochs,
            p.phase.name(),
            p.items_done,
            p.items_total,
            p.loss,
            100.0 * p.accuracy
        );
        let _ = out.flush();
    }

    fn epoch(&self, record: &EpochRecord, epochs: usize) {
        self.clear_line();
        println!("{}", epoch_line(record, epochs));
        if let Ok(mut last) = self.last_draw.lock() {
            *last = None;
        }
    }

    fn warning(&self, message: &str) {
        self.clear_line();
        eprintln!("warning: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::progress_bar;

    #[test]
    fn the_progress_bar_stays_its_width_whatever_the_counts() {
        assert_eq!(progress_bar(0, 10, 10), " ".repeat(10));
        assert_eq!(progress_bar(5, 10, 10), "#####     ");
        assert_eq!(progress_bar(10, 10, 10), "#".repeat(10));
        // Past the total (a loader whose last batch was larger than announced): full, no panic.
        assert_eq!(progress_bar(13, 10, 10), "#".repeat(10));
        assert_eq!(progress_bar(usize::MAX, 7, 30).len(), 30);
        assert_eq!(progress_bar(3, 0, 10), " ".repeat(10));
    }
}
