//! Pulling catalog models with a progress bar on stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use switchyard_models::{pull, Endpoints, Entry, Progress, Store};

use crate::Failure;

/// Makes sure `entry` is in the store, downloading what is missing.
pub async fn ensure(entry: &Entry, store: &Store) -> Result<(), Failure> {
    if store.is_present(entry) {
        return Ok(());
    }
    eprintln!(
        "switchyard: pulling {} ({}, {}) into {}",
        entry.name,
        human(entry.total_size()),
        entry.licence,
        store.model_dir(entry).display()
    );
    let mut bar = Bar::new();
    pull(entry, store, &Endpoints::from_env(), &mut bar)
        .await
        .map_err(|e| Failure::failed(e.to_string()))?;
    eprintln!("switchyard: {} is ready (SHA-256 verified)", entry.name);
    Ok(())
}

/// A one-line progress bar (redrawn in place on a terminal, a line per 10 % otherwise).
struct Bar {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_draw: Instant,
    last_decile: u64,
    tty: bool,
}

impl Bar {
    fn new() -> Self {
        Self {
            label: String::new(),
            total: 0,
            done: 0,
            started: Instant::now(),
            last_draw: Instant::now(),
            last_decile: 0,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn draw(&mut self, force: bool) {
        let now = Instant::now();
        let decile = (self.done * 10).checked_div(self.total).unwrap_or(0);
        let due = if self.tty {
            force || now.duration_since(self.last_draw) >= Duration::from_millis(150)
        } else {
            force || decile > self.last_decile
        };
        if !due {
            return;
        }
        self.last_draw = now;
        self.last_decile = decile;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        let line = if self.total > 0 {
            let filled = (self.done * 30 / self.total.max(1)) as usize;
            format!(
                "  {} [{}{}] {:>3}% {}/{} {}/s",
                self.label,
                "#".repeat(filled.min(30)),
                ".".repeat(30 - filled.min(30)),
                self.done * 100 / self.total.max(1),
                human(self.done),
                human(self.total),
                human(rate as u64)
            )
        } else {
            format!(
                "  {} {} {}/s",
                self.label,
                human(self.done),
                human(rate as u64)
            )
        };
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
}

impl Progress for Bar {
    fn start(&mut self, label: &str, total: u64) {
        label.clone_into(&mut self.label);
        self.total = total;
        self.done = 0;
        self.started = Instant::now();
        self.last_decile = 0;
    }

    fn update(&mut self, done: u64) {
        if self.done == 0 && done > 0 {
            // A resumed transfer: measure the rate from here.
            self.started = Instant::now();
        }
        self.done = done;
        self.draw(false);
    }

    fn finish(&mut self) {
        self.draw(true);
        if self.tty {
            eprintln!();
        }
    }

    fn note(&mut self, message: &str) {
        eprintln!("  {message}");
    }
}

pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
