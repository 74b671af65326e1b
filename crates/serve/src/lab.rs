//! The lab: runs launched from the browser. Each is a child process of this very program,
//! `mnist train <config> --name <run>`, its output appended to the run's `train.log`; at most
//! `max_parallel` train at once and the rest wait in a queue. A run launched here is the same as
//! one launched from a terminal: same directory, same files, resumable from either.
//!
//! Nothing the browser sends becomes anything but a validated config and a plain run name: the
//! config is parsed by the very checks `mnist train` runs, its run always goes into the served
//! artifacts folder, and the only programs started are `mnist train` and `mnist sweep`.
//!
//! A sweep is one job of the queue: `mnist sweep <file> --name <sweep> --parallel 1`, its output
//! in the sweep folder's `sweep.log`. It takes one place while it runs and trains its points one
//! at a time; stopping it (SIGTERM) stops the point training at a clean point.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};

use mnist_trainer::run::dir::{RunDir, RunState};
use mnist_trainer::run::plan::Plan;
use mnist_trainer::run::sweep_dir::SweepDir;
use mnist_trainer::sweep::Sweep;
use mnist_trainer::training::train::check_run_name;

use crate::catalog::{self, RunSummary};
use crate::sweeps;

/// How the server starts a trainer: this program and the backend it serves with.
#[derive(Clone, Debug)]
pub struct TrainerProgram {
    pub program: PathBuf,
    pub backend: String,
}

/// Why a launch, stop, resume or delete was refused, with the HTTP status that says so.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// 400: a name that cannot be a run's.
    BadName(String),
    /// 422: the config does not pass the checks.
    Invalid(String),
    /// 404
    NoSuchRun(String),
    /// 409: the name is taken, or the run is not in a state for this.
    Conflict(String),
    /// 503: this server was started without a trainer to launch.
    CannotLaunch,
    /// 500
    Failed(String),
}

struct Job {
    name: String,
    /// The config file the trainer reads (the sweep file, for a sweep).
    config: PathBuf,
    resume: bool,
    /// `mnist sweep` rather than `mnist train`.
    sweep: bool,
}

struct Running {
    pid: u32,
}

#[derive(Default)]
struct Jobs {
    queue: VecDeque<Job>,
    running: HashMap<String, Running>,
}

pub struct Lab {
    artifacts: PathBuf,
    configs: PathBuf,
    program: Option<TrainerProgram>,
    max_parallel: usize,
    /// The configs of launched runs, as their trainers read them (each writes its own
    /// `config.toml` into its run directory).
    launch_dir: tempfile::TempDir,
    jobs: Mutex<Jobs>,
}

fn lock(jobs: &Mutex<Jobs>) -> MutexGuard<'_, Jobs> {
    // A panic while holding it leaves plain data that is still consistent enough to go on.
    jobs.lock().unwrap_or_else(|p| p.into_inner())
}

/// What `POST /api/configs/check` answers for a valid config.
#[derive(serde::Serialize)]
pub struct Checked {
    pub model: String,
    pub training: String,
    pub validation: String,
    pub epochs: usize,
    pub data: String,
}

impl Lab {
    pub fn new(
        artifacts: &Path,
        configs: &Path,
        program: Option<TrainerProgram>,
        max_parallel: usize,
        scratch_in: &Path,
    ) -> std::io::Result<Self> {
        Ok(Self {
            artifacts: artifacts.to_path_buf(),
            configs: configs.to_path_buf(),
            program,
            max_parallel: max_parallel.max(1),
            launch_dir: tempfile::Builder::new()
                .prefix("mnist-launch-")
                .tempdir_in(scratch_in)?,
            jobs: Mutex::new(Jobs::default()),
        })
    }

    pub fn configs(&self) -> &Path {
        &self.configs
    }

    /// Validates `text` as the config file `<configs>/<name>.toml` would be, with its run in the
    /// served artifacts folder, whatever `artifacts` it names.
    pub fn plan(&self, text: &str, name: &str) -> Result<Plan, Refusal> {
        let file = if check_run_name(name).is_ok() {
            format!("{name}.toml")
        } else {
            "new-run.toml".to_string()
        };
        Plan::parse(text, &self.configs.join(file))
            .map(|plan| plan.with_artifacts(&self.artifacts))
            .map_err(|e| Refusal::Invalid(e.to_string()))
    }

    pub fn check(&self, text: &str, name: &str) -> Result<Checked, Refusal> {
        let plan = self.plan(text, name)?;
        Ok(Checked {
            model: plan.model().short_name(),
            training: plan.describe_training(),
            validation: plan.describe_validation(),
            epochs: plan.epochs(),
            data: plan.data().display().to_string(),
        })
    }

    /// Whether `name` is queued or training from this server.
    fn taken(jobs: &Jobs, name: &str) -> bool {
        jobs.running.contains_key(name) || jobs.queue.iter().any(|j| j.name == name)
    }

    /// Queues a new run `name` of config `text`; it starts when a place is free.
    pub fn launch(self: &Arc<Self>, name: &str, text: &str) -> Result<RunState, Refusal> {
        check_run_name(name).map_err(Refusal::BadName)?;
        if self.program.is_none() {
            return Err(Refusal::CannotLaunch);
        }
        let plan = self.plan(text, name)?;
        let config = self.launch_dir.path().join(format!("{name}.toml"));
        let text = plan
            .to_config(self.launch_dir.path())
            .to_toml()
            .map_err(Refusal::Invalid)?;
        {
            let mut jobs = lock(&self.jobs);
            if Self::taken(&jobs, name) || self.artifacts.join(name).exists() {
                return Err(Refusal::Conflict(format!(
                    "a run called `{name}` exists already: pick another name, or delete it first"
                )));
            }
            std::fs::write(&config, text)
                .map_err(|e| Refusal::Failed(format!("cannot write {}: {e}", config.display())))?;
            jobs.queue.push_back(Job {
                name: name.to_string(),
                config,
                resume: false,
                sweep: false,
            });
        }
        Ok(self.pump(name))
    }

    /// Queues run `name` to go on from its last checkpoint.
    pub fn resume(self: &Arc<Self>, name: &str) -> Result<RunState, Refusal> {
        if self.program.is_none() {
            return Err(Refusal::CannotLaunch);
        }
        let run = catalog::find(&self.artifacts, name)
            .ok_or_else(|| Refusal::NoSuchRun(name.to_string()))?;
        {
            let mut jobs = lock(&self.jobs);
            if Self::taken(&jobs, name) {
                return Err(Refusal::Conflict(format!(
                    "`{name}` is queued or training already"
                )));
            }
            let summary = catalog::summarize(&run);
            match summary.state {
                RunState::Stopped | RunState::Interrupted => {}
                RunState::Finished => {
                    return Err(Refusal::Conflict(format!(
                        "`{name}` has finished: nothing to resume (run it again with changes \
                         under a new name)"
                    )));
                }
                RunState::Training | RunState::Queued => {
                    return Err(Refusal::Conflict(format!("`{name}` is training already")));
                }
                RunState::Broken => {
                    return Err(Refusal::Conflict(format!(
                        "`{name}` cannot be resumed: {}",
                        summary.note.unwrap_or_default()
                    )));
                }
            }
            jobs.queue.push_back(Job {
                name: name.to_string(),
                config: run.config_file(),
                resume: true,
                sweep: false,
            });
        }
        Ok(self.pump(name))
    }

    /// Stops run `name`: takes it out of the queue, or asks its trainer to stop at the next
    /// clean point (SIGTERM, as `kill` sends; the run stays resumable).
    pub fn stop(&self, name: &str) -> Result<RunState, Refusal> {
        let mut jobs = lock(&self.jobs);
        if let Some(k) = jobs.queue.iter().position(|j| j.name == name) {
            jobs.queue.remove(k);
            return Ok(RunState::Stopped);
        }
        let Some(running) = jobs.running.get(name) else {
            let training = catalog::find(&self.artifacts, name).is_some_and(|r| r.is_training());
            return Err(Refusal::Conflict(if training {
                format!("`{name}` was started outside this web app: stop it where it runs (Ctrl-C)")
            } else {
                format!("`{name}` is not training")
            }));
        };
        terminate(running.pid).map_err(Refusal::Failed)?;
        Ok(RunState::Training)
    }

    /// Deletes run `name`, which must not be queued or training.
    pub fn delete(&self, name: &str) -> Result<(), Refusal> {
        let jobs = lock(&self.jobs);
        if Self::taken(&jobs, name) {
            return Err(Refusal::Conflict(format!(
                "`{name}` is queued or training: stop it first"
            )));
        }
        let run = catalog::find(&self.artifacts, name)
            .ok_or_else(|| Refusal::NoSuchRun(name.to_string()))?;
        if run.is_training() {
            return Err(Refusal::Conflict(format!(
                "`{name}` is training (started outside this web app): stop it first"
            )));
        }
        run.remove().map_err(|e| Refusal::Conflict(e.to_string()))
    }

    /// Starts queued runs while places are free; answers where run `name` stands now.
    fn pump(self: &Arc<Self>, name: &str) -> RunState {
        let mut jobs = lock(&self.jobs);
        while jobs.running.len() < self.max_parallel {
            let Some(job) = jobs.queue.pop_front() else {
                break;
            };
            match self.start(&job) {
                Ok(child) => {
                    let pid = child.id();
                    jobs.running.insert(job.name.clone(), Running { pid });
                    let lab = self.clone();
                    std::thread::spawn(move || lab.wait(job, child));
                }
                Err(why) => self.log(&job, &format!("== cannot start it: {why}")),
            }
        }
        if jobs.running.contains_key(name) {
            RunState::Training
        } else if jobs.queue.iter().any(|j| j.name == name) {
            RunState::Queued
        } else {
            // Started and already gone, or could not start: the run directory says which.
            catalog::find(&self.artifacts, name)
                .map_or(RunState::Broken, |r| catalog::summarize(&r).state)
        }
    }

    /// The job's `mnist` process: `mnist train <config> --name <run> [--resume]`, its output
    /// appended to the run's log, or `mnist sweep <file> --name <sweep> --parallel 1`, its output
    /// appended to the sweep's log (its folder was made when it was launched).
    fn start(&self, job: &Job) -> Result<std::process::Child, String> {
        let program = self.program.as_ref().ok_or("no trainer program")?;
        let mut command = Command::new(&program.program);
        command.args(["--backend", &program.backend]);
        let (log_path, line) = if job.sweep {
            command
                .arg("sweep")
                .arg(&job.config)
                .args(["--name", &job.name, "--parallel", "1"]);
            let line = format!(
                "mnist sweep {} --name {} --parallel 1",
                job.config.display(),
                job.name
            );
            (
                SweepDir::new(self.artifacts.join(&job.name)).sweep_log(),
                line,
            )
        } else {
            let run = RunDir::new(self.artifacts.join(&job.name));
            run.create().map_err(|e| e.to_string())?;
            command
                .arg("train")
                .arg(&job.config)
                .args(["--name", &job.name]);
            if job.resume {
                command.arg("--resume");
            }
            let line = format!(
                "mnist train {} --name {}{}",
                job.config.display(),
                job.name,
                if job.resume { " --resume" } else { "" }
            );
            (run.log_file(), line)
        };
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let how = if job.resume { "resumed" } else { "started" };
        let _ = writeln!(log, "== {how} by mnist serve: {line}");
        let err = log
            .try_clone()
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.program.display()))
    }

    /// Waits for a trainer to end, notes how in its log, and starts the next queued run.
    fn wait(self: Arc<Self>, job: Job, mut child: std::process::Child) {
        let status = child.wait();
        let how = match status {
            Ok(s) if s.success() => "finished".to_string(),
            Ok(s) => match s.code() {
                Some(130) => "stopped on request (exit code 130); resumable".to_string(),
                Some(code) => format!("failed (exit code {code})"),
                None => "ended by a signal".to_string(),
            },
            Err(e) => format!("lost: {e}"),
        };
        // Out of the running jobs before the log says it ended: whoever reads that line finds
        // it stoppable no more, and resumable.
        lock(&self.jobs).running.remove(&job.name);
        let what = if job.sweep { "sweep" } else { "trainer" };
        self.log(&job, &format!("== the {what} {how}"));
        self.pump(&job.name);
    }

    fn log(&self, job: &Job, line: &str) {
        let path = if job.sweep {
            SweepDir::new(self.artifacts.join(&job.name)).sweep_log()
        } else {
            RunDir::new(self.artifacts.join(&job.name)).log_file()
        };
        if let Ok(mut log) = OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(log, "{line}");
        }
    }

    /// The runs table with this server's queue: queued runs that have no directory yet are
    /// added, and runs it trains or queues are marked as launched here.
    pub fn overlay(&self, runs: &mut Vec<RunSummary>) {
        let jobs = lock(&self.jobs);
        for run in runs.iter_mut() {
            if jobs.running.contains_key(&run.name) {
                run.launched = true;
                // Its process is alive, so it is training whatever its directory says: either
                // its trainer has not yet written the run's config or taken its lock (it is
                // loading the data), or it has let go of the lock and is exiting. Until `wait`
                // reaps it, a resume or delete would be refused, so no page may offer one.
                match run.state {
                    RunState::Training | RunState::Queued => {}
                    RunState::Broken => {
                        run.state = RunState::Training;
                        run.note = Some("starting".into());
                    }
                    RunState::Finished => {
                        run.state = RunState::Training;
                        run.note = Some("ending".into());
                    }
                    // Resumed and loading its data, or stopped and exiting.
                    RunState::Stopped | RunState::Interrupted => {
                        run.state = RunState::Training;
                        run.note = Some("starting or ending".into());
                    }
                }
            }
            if jobs.queue.iter().any(|j| j.name == run.name) {
                run.launched = true;
                run.state = RunState::Queued;
            }
        }
        for job in jobs.queue.iter().filter(|j| !j.sweep) {
            if !runs.iter().any(|r| r.name == job.name) {
                let mut queued = catalog::placeholder(&job.name, RunState::Queued);
                queued.launched = true;
                runs.push(queued);
            }
        }
    }

    /// Asks every trainer this server started to stop (the server is stopping); the queue is
    /// dropped. The runs stay resumable.
    pub fn stop_all(&self) {
        let mut jobs = lock(&self.jobs);
        jobs.queue.clear();
        for running in jobs.running.values() {
            let _ = terminate(running.pid);
        }
    }

    /// Checks sweep file `text` as `mnist sweep` would read `<configs>/<name>.toml`.
    pub fn check_sweep(&self, text: &str, name: &str) -> Result<Sweep, Refusal> {
        let (name, file) = if check_run_name(name).is_ok() && !name.is_empty() {
            (name, format!("{name}.toml"))
        } else {
            ("new-sweep", "new-sweep.toml".to_string())
        };
        Sweep::parse(text.to_string(), &self.configs.join(file), Some(name))
            .map_err(|e| Refusal::Invalid(e.to_string()))
    }

    /// Queues the new sweep `name` of sweep file `text`; answers its points' run names and
    /// where it stands. Its folder is made at once with the sweep file (as `mnist sweep` stores
    /// it), which holds the name and lists it.
    pub fn launch_sweep(
        self: &Arc<Self>,
        name: &str,
        text: &str,
    ) -> Result<(Vec<String>, RunState), Refusal> {
        check_run_name(name).map_err(Refusal::BadName)?;
        // The points' runs are named after the sweep: it takes what a run name and a URL
        // segment keep as they are (as `mnist sweep` asks).
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(Refusal::BadName(format!(
                "`{}` cannot name a sweep: use letters, digits, `.`, `_` and `-`",
                name.escape_debug()
            )));
        }
        if self.program.is_none() {
            return Err(Refusal::CannotLaunch);
        }
        // The user's text, with its line numbers in the errors; then the text the sweep runs
        // from: its paths absolute, its runs in the served artifacts folder.
        self.check_sweep(text, name)?;
        let launched =
            sweeps::launch_text(text, &self.configs, &self.artifacts).map_err(Refusal::Invalid)?;
        let file = self.launch_dir.path().join(format!("{name}.toml"));
        let sweep = Sweep::parse(launched.clone(), &file, Some(name))
            .map_err(|e| Refusal::Invalid(e.to_string()))?;
        let points = sweep.points.iter().map(|p| p.spec.run.clone()).collect();
        {
            let mut jobs = lock(&self.jobs);
            if Self::taken(&jobs, name) || self.artifacts.join(name).exists() {
                return Err(Refusal::Conflict(format!(
                    "a run or sweep called `{name}` exists already: pick another name"
                )));
            }
            // A point's run directory that holds something else: the sweep would refuse it.
            sweep
                .actions()
                .map_err(|e| Refusal::Conflict(e.to_string()))?;
            std::fs::write(&file, &launched)
                .map_err(|e| Refusal::Failed(format!("cannot write {}: {e}", file.display())))?;
            sweep
                .dir
                .create()
                .map_err(|e| Refusal::Failed(e.to_string()))?;
            sweep
                .dir
                .write(&sweep.dir.sweep_file(), launched.as_bytes())
                .map_err(|e| Refusal::Failed(e.to_string()))?;
            jobs.queue.push_back(Job {
                name: name.to_string(),
                config: file,
                resume: false,
                sweep: true,
            });
        }
        Ok((points, self.pump(name)))
    }

    /// Queues sweep `name` again: `mnist sweep` skips its finished points and resumes the rest.
    pub fn resume_sweep(self: &Arc<Self>, name: &str) -> Result<RunState, Refusal> {
        if self.program.is_none() {
            return Err(Refusal::CannotLaunch);
        }
        let dir = sweeps::find(&self.artifacts, name)
            .ok_or_else(|| Refusal::NoSuchRun(name.to_string()))?;
        let text = dir.stored_text().unwrap_or_default();
        let file = self.launch_dir.path().join(format!("{name}.toml"));
        // A sweep made from a terminal may name paths relative to its file's folder, which
        // this copy is not in: refused here rather than failing in the log.
        let sweep = Sweep::parse(text.clone(), &file, Some(name)).map_err(|e| {
            Refusal::Conflict(format!(
                "cannot go on with `{name}` from the web app ({e}); run `mnist sweep` on its \
                 file again in a terminal"
            ))
        })?;
        {
            let mut jobs = lock(&self.jobs);
            if Self::taken(&jobs, name) {
                return Err(Refusal::Conflict(format!(
                    "`{name}` is queued or running already"
                )));
            }
            let actions = sweep
                .actions()
                .map_err(|e| Refusal::Conflict(e.to_string()))?;
            if actions
                .iter()
                .all(|a| *a == mnist_trainer::sweep::Action::Skip)
            {
                return Err(Refusal::Conflict(format!(
                    "every point of `{name}` has finished: nothing to resume"
                )));
            }
            std::fs::write(&file, &text)
                .map_err(|e| Refusal::Failed(format!("cannot write {}: {e}", file.display())))?;
            jobs.queue.push_back(Job {
                name: name.to_string(),
                config: file,
                resume: true,
                sweep: true,
            });
        }
        Ok(self.pump(name))
    }

    /// Whether sweep `name` is running from this server (`Training`) or queued; `None`: neither.
    pub fn sweep_job(&self, name: &str) -> Option<RunState> {
        let jobs = lock(&self.jobs);
        if jobs.running.contains_key(name) {
            Some(RunState::Training)
        } else if jobs.queue.iter().any(|j| j.name == name) {
            Some(RunState::Queued)
        } else {
            None
        }
    }

    pub fn is_queued(&self, name: &str) -> bool {
        lock(&self.jobs).queue.iter().any(|j| j.name == name)
    }

    /// Whether any trainer this server started is still running.
    pub fn busy(&self) -> bool {
        !lock(&self.jobs).running.is_empty()
    }
}

/// SIGTERM to a trainer this server started: it stops after the batch in progress.
#[cfg(unix)]
fn terminate(pid: u32) -> Result<(), String> {
    let pid = i32::try_from(pid).map_err(|_| format!("process id {pid} out of range"))?;
    // SAFETY: kill(2) takes any pid and signal and touches no memory of ours. The pid is a
    // child's that `running` holds only until the child is reaped (a stop in the instant between
    // the two could reach a reused pid, as a `kill` typed in a shell could).
    let done = unsafe { libc::kill(pid, libc::SIGTERM) };
    if done == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot signal process {pid}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

#[cfg(not(unix))]
fn terminate(_pid: u32) -> Result<(), String> {
    Err("stopping a run from the web app needs a Unix system; stop it with Ctrl-C".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab_training(name: &str) -> (tempfile::TempDir, Lab) {
        let dir = tempfile::tempdir().unwrap();
        let lab = Lab::new(dir.path(), dir.path(), None, 1, dir.path()).unwrap();
        lock(&lab.jobs)
            .running
            .insert(name.to_string(), Running { pid: 0 });
        (dir, lab)
    }

    /// A trainer that has written its end (stopped, finished) but not yet exited is still
    /// training: a page that showed "stopped" then would offer a Resume the server refuses.
    #[test]
    fn a_run_whose_process_is_alive_is_training_whatever_its_directory_says() {
        let (_dir, lab) = lab_training("ending");
        for (state, note) in [
            (RunState::Stopped, "starting or ending"),
            (RunState::Finished, "ending"),
            (RunState::Interrupted, "starting or ending"),
            (RunState::Broken, "starting"),
        ] {
            let mut runs = vec![catalog::placeholder("ending", state)];
            lab.overlay(&mut runs);
            assert_eq!(runs[0].state, RunState::Training, "{state:?}");
            assert_eq!(runs[0].note.as_deref(), Some(note), "{state:?}");
            assert!(runs[0].launched);
        }
        // A run this server does not train keeps what its directory says.
        let mut runs = vec![catalog::placeholder("other", RunState::Stopped)];
        lab.overlay(&mut runs);
        assert_eq!(runs[0].state, RunState::Stopped);
        assert!(!runs[0].launched);
    }
}
