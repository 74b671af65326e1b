//! `mnist sweep`: one run config, some of its keys varied over lists of values, one run per
//! point. A sweep file is a run config (what `mnist train` takes) plus a `[sweep]` table
//! ([`spec`]); every point is that config with the point's values set, checked by the very
//! parse and plan checks `mnist train` makes, all of them before anything runs.
//!
//! Every point trains in a process of its own, `mnist train <point config> --name <run>`,
//! launched as the caller says (the binary passes itself), its output in the sweep folder's log.
//! Running a sweep again skips its finished points, resumes its interrupted ones, and never
//! touches a run directory that holds another config.
//!
//! A sweep stops on request (a [`StopFlag`]: Ctrl-C or SIGTERM to `mnist sweep`): no further
//! point starts, and the stop is passed on to the points training (SIGTERM), which stop at a
//! clean point and stay resumable; the summary is written of what is done.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use toml::Value;

use crate::Error;
use crate::run::config::{RunConfig, with_line};
use crate::run::dir::{RunDir, RunState};
use crate::run::plan::{Plan, display_path, folder_of};
use crate::run::sweep_dir::SweepDir;
use crate::training::stop::StopFlag;

pub mod spec;
pub mod summary;

use spec::{PointSpec, SweepSpec};
use summary::SweepRow;

/// What `mnist sweep` was asked to do.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    pub file: PathBuf,
    /// The sweep's name [default: the file's name without `.toml`].
    pub name: Option<String>,
    /// How many points train at once.
    pub parallel: NonZeroUsize,
}

/// A point of a checked sweep: its name, values and validated plan.
#[derive(Clone, Debug)]
pub struct Point {
    pub spec: PointSpec,
    pub plan: Plan,
}

/// A sweep file, read and checked: its points, each validated.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub file: PathBuf,
    pub text: String,
    pub spec: SweepSpec,
    pub points: Vec<Point>,
    pub dir: SweepDir,
}

/// What a point needs, given its run directory as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Finished: nothing to do.
    Skip,
    /// No run yet: `mnist train`.
    Start,
    /// Interrupted after a checkpoint: `mnist train --resume`.
    Resume,
    /// Interrupted before its first checkpoint, this very config: `mnist train --force`.
    Restart,
}

/// How the launcher is asked to run a point: `mnist train <config> --name <run>`, with
/// `--resume` or `--force` where set.
#[derive(Clone, Debug)]
pub struct Launch {
    pub config: PathBuf,
    pub run: String,
    pub resume: bool,
    pub force: bool,
}

/// What happens to a point, as it happens.
#[derive(Clone, Debug)]
pub enum Event {
    /// Finished before this sweep ran: skipped.
    Skipped { row: SweepRow },
    /// Its process started.
    Started { run: String, action: Action },
    /// Its process ended well: the run's row, and the process's wall time.
    Finished { row: SweepRow, seconds: f64 },
    /// Its process stopped on the sweep's stop request, at a clean point: resumable.
    Stopped { row: SweepRow, seconds: f64 },
    /// Its process failed (or could not start): why, and where its output is.
    Failed {
        run: String,
        why: String,
        log: PathBuf,
        seconds: f64,
    },
}

/// A point that failed.
#[derive(Clone, Debug)]
pub struct Failure {
    pub run: String,
    pub why: String,
    pub log: PathBuf,
}

/// The sweep once every point has had its turn.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    pub dir: SweepDir,
    /// One row per point, in the sweep's order (`sweep.csv`'s rows).
    pub rows: Vec<SweepRow>,
    pub failures: Vec<Failure>,
    /// Whether a stop was requested: points may be left stopped or not started.
    pub stopped: bool,
}

/// A sweep's name: plain enough for a folder and a URL segment.
fn sweep_name(file: &Path, name: Option<&str>) -> Result<String, Error> {
    let name = match name {
        Some(n) => n.to_string(),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !plain {
        return Err(Error::Config {
            path: file.to_path_buf(),
            why: format!(
                "`{name}` cannot name a sweep (its folder and its runs' names take letters, \
                 digits, `.`, `_` and `-`); pass --name NAME"
            ),
        });
    }
    Ok(name)
}

/// Sets `value` at the dotted `path` of `table`, making missing tables on the way.
fn set(table: &mut toml::Table, path: &str, value: Value) -> Result<(), String> {
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.pop().unwrap_or(path);
    let mut here = table;
    let mut walked = String::new();
    for segment in segments {
        walked += segment;
        let next = here
            .entry(segment.to_string())
            .or_insert_with(|| Value::Table(toml::Table::new()));
        here = match next {
            Value::Table(t) => t,
            other => {
                return Err(format!(
                    "`{walked}` is {} in the config, not a table with keys",
                    other.type_str()
                ));
            }
        };
        walked += ".";
    }
    here.insert(last.to_string(), value);
    Ok(())
}

/// The base config with `values` set, as a run config; the error is serde's message.
fn config_with(base: &toml::Table, values: &[(String, Value)]) -> Result<RunConfig, String> {
    let mut table = base.clone();
    for (path, value) in values {
        set(&mut table, path, value.clone())?;
    }
    Value::Table(table)
        .try_into::<RunConfig>()
        .map_err(|e| e.message().trim_end_matches('.').to_string())
}

impl Sweep {
    /// Reads the sweep file and checks the base config, every swept value on its own (so an
    /// error names the key, its value and its line) and every point that will run.
    pub fn load(file: &Path, name: Option<&str>) -> Result<Sweep, Error> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, "cannot read", e))?;
        Self::parse(text, file, name)
    }

    /// [`Sweep::load`] of `text` as if it were the file `file` (which need not exist: the web
    /// app checks a sweep before writing it anywhere).
    pub fn parse(text: String, file: &Path, name: Option<&str>) -> Result<Sweep, Error> {
        let fail = |why: String| Error::Config {
            path: file.to_path_buf(),
            why,
        };
        let name = sweep_name(file, name)?;
        let (spec, base_text) = SweepSpec::parse(&text).map_err(fail)?;
        // The base config: exactly `mnist train`'s checks, on the file without its [sweep].
        let base_folder = folder_of(file);
        let base_config = RunConfig::parse(&base_text).map_err(fail)?;
        let base = Plan::from_config(base_config, &base_folder)
            .map_err(|why| fail(with_line(&base_text, why)))?;
        let base_table: toml::Table =
            toml::from_str(&base_text).map_err(|e| fail(e.message().to_string()))?;
        for key in &spec.keys {
            let at = match key.line {
                Some(l) => format!("line {l}, [sweep] key `{}`", key.path),
                None => format!("[sweep] key `{}`", key.path),
            };
            for value in &key.values {
                let values = [(key.path.clone(), value.clone())];
                let checked = config_with(&base_table, &values)
                    .and_then(|config| Plan::from_config(config, &base_folder));
                if let Err(why) = checked {
                    return Err(fail(format!("{at}, value {value}: {why}")));
                }
            }
        }
        let mut points = Vec::new();
        for point in spec.points(&name) {
            let plan = config_with(&base_table, &point.values)
                .and_then(|config| Plan::from_config(config, &base_folder))
                .map_err(|why| {
                    fail(format!(
                        "the point {} ({}): {}",
                        point.run,
                        point.describe(),
                        with_line(&base_text, why)
                    ))
                })?;
            points.push(Point { spec: point, plan });
        }
        Ok(Sweep {
            file: file.to_path_buf(),
            text,
            spec,
            points,
            dir: SweepDir::new(base.artifacts().join(&name)),
        })
    }

    /// The point's resolved config as its file in the sweep folder holds it: every key written
    /// out, `data` and `artifacts` absolute (the file is read from the sweep folder, but its runs
    /// go where the sweep file said).
    fn point_text(&self, point: &Point) -> Result<String, Error> {
        let mut config = point.plan.to_config(self.dir.path());
        config.data = Some(point.plan.data().to_path_buf());
        config.artifacts = Some(point.plan.artifacts().to_path_buf());
        let text = config
            .to_toml()
            .map_err(|why| Error::run(&self.dir.point_config(&point.spec.run), why))?;
        Ok(format!(
            "# Point of the sweep {} ({}): {}\n{text}",
            self.dir.name(),
            display_path(&self.file),
            point.spec.describe()
        ))
    }

    /// What each point needs; an error (before anything runs) for a sweep folder made from
    /// another sweep file, and for a point whose run directory is not this point's run.
    pub fn actions(&self) -> Result<Vec<Action>, Error> {
        if self.dir.exists() {
            match self.dir.stored_text() {
                Some(stored) if stored == self.text => {}
                Some(_) => {
                    return Err(Error::run(
                        self.dir.path(),
                        format!(
                            "this sweep was made from another version of {} (its sweep.toml \
                             differs): run it with the same file, or pass --name NAME to start \
                             a new sweep",
                            display_path(&self.file)
                        ),
                    ));
                }
                None => {
                    return Err(Error::run(
                        self.dir.path(),
                        "exists and is not a sweep's folder (no sweep.toml): pass --name NAME \
                         to name the sweep otherwise",
                    ));
                }
            }
        }
        self.points
            .iter()
            .map(|p| action(&self.dir.run_dir(&p.spec.run), &p.plan))
            .collect()
    }

    /// Writes the sweep folder: the sweep file as given and every point's config.
    fn prepare(&self) -> Result<(), Error> {
        self.dir.create()?;
        self.dir
            .write(&self.dir.sweep_file(), self.text.as_bytes())?;
        for point in &self.points {
            let text = self.point_text(point)?;
            self.dir
                .write(&self.dir.point_config(&point.spec.run), text.as_bytes())?;
        }
        Ok(())
    }
}

/// What the point whose plan is `plan` needs, given its run directory `run`.
fn action(run: &RunDir, plan: &Plan) -> Result<Action, Error> {
    let name = run.name();
    if !run.exists() || run.is_vacant() {
        return Ok(Action::Start);
    }
    if !run.has_config() {
        return Err(Error::run(
            run.path(),
            format!(
                "exists and is not a run directory (no config file), so the sweep cannot train \
                 its point `{name}` there: move it away, or pass --name NAME for a new sweep"
            ),
        ));
    }
    let theirs = run.plan().map_err(|e| {
        Error::run(
            run.path(),
            format!(
                "holds a run the sweep cannot read ({e}): move it away, or pass --name NAME for \
                 a new sweep"
            ),
        )
    })?;
    if theirs != *plan {
        return Err(Error::run(
            run.path(),
            format!(
                "holds a run of another config than this sweep's point `{name}`; the sweep never \
                 overwrites a run: move or delete that run, or pass --name NAME for a new sweep"
            ),
        ));
    }
    let epochs = run.epochs()?;
    Ok(match run.state(plan, epochs.len()) {
        RunState::Finished => Action::Skip,
        RunState::Training | RunState::Queued => return Err(run.busy()),
        RunState::Interrupted | RunState::Stopped | RunState::Broken => {
            if run.checkpoint_epochs(plan.trainer().kind()).is_empty() {
                Action::Restart
            } else {
                Action::Resume
            }
        }
    })
}

/// Runs the sweep: checks it, writes its folder, trains every point that needs it, up to
/// `request.parallel` at once, each in a process `launch` makes (stdout and stderr are set
/// here, to the point's log), and writes `sweep.csv`. `each` sees every point's events as they
/// happen. A failed point does not stop the others; the outcome lists the failures. Once `stop`
/// is requested no point starts, and the running ones are asked to stop (see the module's
/// documentation).
pub fn run(
    request: &SweepRequest,
    stop: &StopFlag,
    launch: impl Fn(&Launch) -> Command + Sync,
    mut each: impl FnMut(&Event),
) -> Result<SweepOutcome, Error> {
    let sweep = Sweep::load(&request.file, request.name.as_deref())?;
    let actions = sweep.actions()?;
    sweep.prepare()?;
    let mut todo = Vec::new();
    for (point, action) in sweep.points.iter().zip(&actions) {
        if *action == Action::Skip {
            let row = summary::row(&sweep.dir.run_dir(&point.spec.run), &point.spec);
            each(&Event::Skipped { row });
        } else {
            todo.push((point, *action));
        }
    }
    let mut failures = Vec::new();
    let queue = Mutex::new(todo.into_iter());
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..request.parallel.get() {
            let (tx, queue, launch, sweep) = (tx.clone(), &queue, &launch, &sweep);
            scope.spawn(move || {
                loop {
                    if stop.is_requested() {
                        break;
                    }
                    // A worker that panicked cannot have left the iterator half-advanced.
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((point, action)) = next else {
                        break;
                    };
                    let run = point.spec.run.clone();
                    let _ = tx.send(Event::Started {
                        run: run.clone(),
                        action,
                    });
                    let _ = tx.send(train_point(sweep, point, action, launch, stop));
                }
            });
        }
        drop(tx);
        for event in rx {
            if let Event::Failed { run, why, log, .. } = &event {
                failures.push(Failure {
                    run: run.clone(),
                    why: why.clone(),
                    log: log.clone(),
                });
            }
            each(&event);
        }
    });
    let rows: Vec<SweepRow> = sweep
        .points
        .iter()
        .map(|p| summary::row(&sweep.dir.run_dir(&p.spec.run), &p.spec))
        .collect();
    sweep
        .dir
        .write(&sweep.dir.csv_file(), summary::csv(&rows).as_bytes())?;
    Ok(SweepOutcome {
        dir: sweep.dir.clone(),
        rows,
        failures,
        stopped: stop.is_requested(),
    })
}

/// Trains one point in its own process, its output appended to its log.
fn train_point(
    sweep: &Sweep,
    point: &Point,
    action: Action,
    launch: &(impl Fn(&Launch) -> Command + Sync),
    stop: &StopFlag,
) -> Event {
    let run = point.spec.run.clone();
    let log = sweep.dir.log_file(&run);
    let start = Instant::now();
    let failed = |why: String, start: Instant| Event::Failed {
        run: run.clone(),
        why,
        log: log.clone(),
        seconds: start.elapsed().as_secs_f64(),
    };
    let mut command = launch(&Launch {
        config: sweep.dir.point_config(&run),
        run: run.clone(),
        resume: action == Action::Resume,
        force: action == Action::Restart,
    });
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut file| {
            use std::io::Write;
            writeln!(file, "$ {command:?}")?;
            Ok((file.try_clone()?, file))
        });
    let (out, err) = match opened {
        Ok(files) => files,
        Err(e) => return failed(format!("{}: cannot write: {e}", log.display()), start),
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    // A process group of its own: a Ctrl-C in the terminal reaches only the sweep, which passes
    // the stop on once (a trainer that got both would take the second signal as "end at once").
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let status = match command.spawn().and_then(|child| wait_or_stop(child, stop)) {
        Ok(status) => status,
        Err(e) => return failed(format!("cannot run {command:?}: {e}"), start),
    };
    // 130: `mnist train`'s exit code for a clean stop on request.
    if stop.is_requested() && status.code() == Some(130) {
        let row = summary::row(&sweep.dir.run_dir(&run), &point.spec);
        return Event::Stopped {
            row,
            seconds: start.elapsed().as_secs_f64(),
        };
    }
    if status.success() {
        let row = summary::row(&sweep.dir.run_dir(&run), &point.spec);
        return Event::Finished {
            row,
            seconds: start.elapsed().as_secs_f64(),
        };
    }
    // The child's own one-line error, where it wrote one.
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let why = text
        .lines()
        .rev()
        .find(|l| l.starts_with("error: "))
        .map(|l| l.trim_start_matches("error: ").to_string())
        .unwrap_or_else(|| format!("`mnist train` ended with {status}"));
    failed(why, start)
}

/// Waits for a point's trainer; once a stop is requested, asks it (once) to stop at its next
/// clean point.
fn wait_or_stop(
    mut child: std::process::Child,
    stop: &StopFlag,
) -> std::io::Result<std::process::ExitStatus> {
    let mut asked = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if stop.is_requested() && !asked {
            asked = true;
            terminate(child.id());
        }
        // Polled: the trainer runs for seconds to hours, a tenth of a second costs nothing.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM to a point's trainer: `mnist train` stops after the batch in progress.
#[cfg(unix)]
fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) touches no memory of ours; the pid is our child's, not yet reaped
        // (`try_wait` has just seen it running).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// Elsewhere the trainer shares the console and gets the Ctrl-C itself.
#[cfg(not(unix))]
fn terminate(_pid: u32) {}
