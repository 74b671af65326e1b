//! The sweeps under the artifacts folder, as `GET /api/sweeps` and the sweep page show them, and
//! the text a sweep launched from the browser runs from. A sweep's folder is read through
//! `SweepDir` (its layout is spelled there); its points are ordinary runs beside it.

use std::path::{Path, PathBuf};

use mnist_trainer::run::dir::RunState;
use mnist_trainer::run::plan::{Plan, resolve};
use mnist_trainer::run::sweep_dir::SweepDir;
use mnist_trainer::sweep::spec::SweepSpec;
use mnist_trainer::sweep::summary::SweepRow;
use serde::Serialize;
use toml::Value;

/// Where a sweep stands as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepState {
    /// Waiting for a place in this server's queue.
    Queued,
    /// Its `mnist sweep` runs (from this server), or one of its points trains.
    Running,
    /// Every point finished.
    Finished,
    /// Not running, with points left to do: stopped, failed or interrupted; running it again
    /// goes on.
    Stopped,
}

/// A sweep in the list.
#[derive(Clone, Debug, Serialize)]
pub struct SweepSummary {
    pub name: String,
    pub state: SweepState,
    pub points: usize,
    pub finished: usize,
    /// Why the sweep cannot be read, where it cannot.
    pub note: Option<String>,
}

/// A point of a sweep: its run and that run's state (`missing` before it starts).
#[derive(Clone, Debug, Serialize)]
pub struct PointState {
    pub run: String,
    pub state: &'static str,
}

/// A sweep in full, for its page.
#[derive(Clone, Debug, Serialize)]
pub struct SweepDetail {
    #[serde(flatten)]
    pub summary: SweepSummary,
    /// The swept keys, in the sweep file's order.
    pub keys: Vec<String>,
    pub points_detail: Vec<PointState>,
    /// One row per point, in the sweep's order (as `sweep.csv` has them).
    pub rows: Vec<SweepRow>,
    /// The sweep's figures it has, by file name.
    pub figures: Vec<&'static str>,
    /// The sweep file as stored.
    pub config: Option<String>,
    /// The end of `mnist sweep`'s output, where this web app launched it.
    pub log: Option<String>,
}

/// The sweep folder called `name` directly under `artifacts`: a plain name of a real folder
/// that holds a sweep file, never a path that reads outside the artifacts folder.
pub fn find(artifacts: &Path, name: &str) -> Option<SweepDir> {
    let run = crate::catalog::find(artifacts, name)?;
    SweepDir::is_sweep(run.path()).then(|| SweepDir::new(run.path()))
}

/// Every sweep under `artifacts`, by name; `job` says whether this server runs or queues one.
pub fn list(artifacts: &Path, job: impl Fn(&str) -> Option<RunState>) -> Vec<SweepSummary> {
    crate::catalog::folder_names(artifacts)
        .iter()
        .filter_map(|n| find(artifacts, n))
        .map(|dir| summarize(&dir, job(&dir.name())).0)
        .collect()
}

/// The sweep's summary and rows as its points' runs stand now.
fn summarize(dir: &SweepDir, job: Option<RunState>) -> (SweepSummary, Vec<SweepRow>) {
    let name = dir.name();
    let rows = match dir.rows() {
        Ok(rows) => rows,
        Err(e) => {
            let summary = SweepSummary {
                name,
                state: if job.is_some() {
                    SweepState::Running
                } else {
                    SweepState::Stopped
                },
                points: 0,
                finished: 0,
                note: Some(e.to_string()),
            };
            return (summary, Vec::new());
        }
    };
    let finished = rows
        .iter()
        .filter(|r| r.state == Some(RunState::Finished))
        .count();
    let training = rows.iter().any(|r| r.state == Some(RunState::Training));
    let state = match job {
        Some(RunState::Queued) => SweepState::Queued,
        Some(_) => SweepState::Running,
        None if training => SweepState::Running,
        None if finished == rows.len() => SweepState::Finished,
        None => SweepState::Stopped,
    };
    let summary = SweepSummary {
        name,
        state,
        points: rows.len(),
        finished,
        note: None,
    };
    (summary, rows)
}

/// Most bytes of `sweep.log` the sweep page shows: its end, where the last point's fate is.
const LOG_TAIL: u64 = 16 * 1024;

pub fn detail(dir: &SweepDir, job: Option<RunState>) -> SweepDetail {
    let (summary, rows) = summarize(dir, job);
    let keys = rows
        .first()
        .map(|r| r.values.iter().map(|v| v.key.clone()).collect())
        .unwrap_or_default();
    let points_detail = rows
        .iter()
        .map(|r| PointState {
            run: r.run.clone(),
            state: mnist_trainer::sweep::summary::state_name(r.state),
        })
        .collect();
    SweepDetail {
        summary,
        keys,
        points_detail,
        rows,
        figures: SweepDir::FIGURES
            .iter()
            .copied()
            .filter(|f| dir.figure(f).is_some_and(|p| p.is_file()))
            .collect(),
        config: dir.stored_text(),
        log: crate::catalog::tail(&dir.sweep_log(), LOG_TAIL),
    }
}

/// The figure of sweep `dir` called `file`, if it is one of a sweep's figure names and exists.
pub fn figure_file(dir: &SweepDir, file: &str) -> Option<PathBuf> {
    dir.figure(file).filter(|p| p.is_file())
}

/// The sweep file `text` (checked already, as `<configs>/<name>.toml`) as the launched sweep
/// reads it from another folder: `data` absolute (and every swept `data` value), `artifacts`
/// the served folder. Everything else is kept as written, so the points merge their values
/// into the same base config (comments are lost; the sweep's folder keeps this text).
pub fn launch_text(text: &str, configs: &Path, artifacts: &Path) -> Result<String, String> {
    let (_, base_text) = SweepSpec::parse(text)?;
    let base = Plan::parse(&base_text, &configs.join("sweep.toml")).map_err(|e| e.to_string())?;
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let path_value = |p: &Path| Value::String(p.to_string_lossy().into_owned());
    table.insert("data".into(), path_value(base.data()));
    table.insert(
        "artifacts".into(),
        path_value(&resolve(Path::new("."), artifacts)),
    );
    if let Some(Value::Table(sweep)) = table.get_mut("sweep")
        && let Some(Value::Array(values)) = sweep.get_mut("data")
    {
        for value in values.iter_mut() {
            if let Value::String(path) = value {
                *value = path_value(&resolve(configs, Path::new(path.as_str())));
            }
        }
    }
    toml::to_string(&table).map_err(|e| format!("cannot write the sweep file: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launched_text_has_absolute_paths_and_the_served_artifacts() {
        let configs = Path::new("/srv/configs");
        let base = mnist_trainer::testing::TestConfig::scratch()
            .data(Path::new("../data/x.mat"))
            .artifacts(Path::new("elsewhere"))
            .toml();
        let text =
            format!("{base}\n[sweep]\nbatch_size = [10, 20]\ndata = [\"a.mat\", \"/abs/b.mat\"]\n");
        let out = launch_text(&text, configs, Path::new("/srv/runs")).unwrap();
        let table: toml::Table = toml::from_str(&out).unwrap();
        let given: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(table["data"].as_str(), Some("/srv/data/x.mat"), "{out}");
        assert_eq!(table["artifacts"].as_str(), Some("/srv/runs"), "{out}");
        let swept = table["sweep"]["data"].as_array().unwrap();
        assert_eq!(swept[0].as_str(), Some("/srv/configs/a.mat"), "{out}");
        assert_eq!(swept[1].as_str(), Some("/abs/b.mat"), "{out}");
        assert_eq!(table["sweep"]["batch_size"].as_array().unwrap().len(), 2);
        // Everything else is kept as written: a swept model kind merges into the same tables.
        for key in ["model", "optimizer", "batch_size", "epochs", "seed"] {
            assert_eq!(table.get(key), given.get(key), "{key}: {out}");
        }
    }
}
