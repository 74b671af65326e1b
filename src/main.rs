//! `mnist`: the command line. `main` parses arguments (`cli`), picks the backend and hands each
//! command to the library crates; what they return is printed by `render`. Errors become one
//! line on stderr and exit code 1.

mod cli;
mod render;

use std::io::Write;
use std::process::{Command as Process, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use cli::{Cli, Command, DataCommand};
use mnist_bench::{speed, sweep};
use mnist_infer::{export, predict};
use mnist_trainer::backend::{self, Backend};
use mnist_trainer::run::dir::{RunDir, RunState};
use mnist_trainer::run::plan::Plan;
use mnist_trainer::sweep as run_sweep;
use mnist_trainer::training::stop::StopFlag;
use mnist_trainer::training::train::{self, TrainRequest};
use mnist_trainer::{Error, gradcheck, sys};
use render::console::Console;

/// The exit code of a run stopped on request (Ctrl-C, SIGTERM): 128 + SIGINT, as shells report
/// a program ended by Ctrl-C; the run is resumable.
const STOPPED: u8 = 130;

fn main() -> ExitCode {
    sys::keep_freed_memory();
    let cli = Cli::parse();
    match backend::by_name(&cli.backend).and_then(|b| execute(cli.command, &b)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ (Error::Stopped { .. } | Error::SweepStopped { .. })) => {
            eprintln!("{e}");
            ExitCode::from(STOPPED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first Ctrl-C or SIGTERM asks training to stop at the next clean point (saying so with
/// `message`); a second one ends the program at once.
fn stop_on_signals(stop: &StopFlag, message: &'static str) {
    let stop = stop.clone();
    let signals = AtomicUsize::new(0);
    let installed = ctrlc::set_handler(move || {
        if signals.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("\n{message}");
            stop.stop();
        } else {
            std::process::exit(STOPPED.into());
        }
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will end training at once, without a clean stop ({e})");
    }
}

fn execute(command: Command, backend: &Backend) -> Result<(), Error> {
    match command {
        Command::Data(DataCommand::Info { data }) => {
            let mnist = mnist_data::load(data.as_deref())?;
            let summary = mnist_data::summary::DataSummary::of(&mnist);
            print!("{}", render::data_summary(&summary, sys::peak_rss_bytes()));
        }
        Command::Train {
            config,
            name,
            resume,
            force,
        } => {
            let request = TrainRequest {
                plan: Plan::load(&config)?,
                name: train::run_name(&config, name.as_deref())?,
                resume,
                force,
            };
            let stop = StopFlag::new();
            stop_on_signals(
                &stop,
                "stopping after the batch in progress (the run stays resumable); Ctrl-C again \
                 ends it at once",
            );
            let outcome = train::train_until(&request, backend, Arc::new(Console::new()), &stop)?;
            mnist_report::write_outcome(&outcome, &backend.device)?;
            if let Some(line) = render::trained(&outcome) {
                println!("{line}");
            }
        }
        Command::Sweep {
            file,
            name,
            parallel,
        } => {
            let exe = std::env::current_exe()
                .map_err(|e| Error::Check(format!("cannot find this program's path: {e}")))?;
            let request = run_sweep::SweepRequest {
                file,
                name,
                parallel,
            };
            // Each point is this program again, `mnist train`, in a process of its own.
            let launch = |l: &run_sweep::Launch| {
                let mut command = Process::new(&exe);
                command
                    .args(["--backend", backend.name, "train"])
                    .arg(&l.config)
                    .arg("--name")
                    .arg(&l.run);
                if l.resume {
                    command.arg("--resume");
                }
                if l.force {
                    command.arg("--force");
                }
                command
            };
            // The header with the first point's line: a sweep refused before it runs prints
            // only its error.
            let mut header = Some(render::sweep::HEADER);
            let stop = StopFlag::new();
            // Its points' trainers are in process groups of their own: the sweep passes the
            // stop on to them, and they stop cleanly even if a second Ctrl-C ends the sweep.
            stop_on_signals(
                &stop,
                "stopping the sweep: no new point starts, the points training stop after their \
                 batch in progress (resumable: run the same sweep again)",
            );
            let outcome = run_sweep::run(&request, &stop, launch, |event| {
                if let Some(header) = header.take() {
                    println!("{header}");
                }
                println!("{}", render::sweep::event(event));
            })?;
            mnist_report::figures::sweep::write(&outcome.dir, &outcome.rows)?;
            print!("{}", render::sweep::done(&outcome));
            if outcome.stopped {
                return Err(Error::SweepStopped {
                    sweep: outcome.dir.path().to_path_buf(),
                    finished: outcome
                        .rows
                        .iter()
                        .filter(|r| r.state == Some(RunState::Finished))
                        .count(),
                    points: outcome.rows.len(),
                });
            }
            if !outcome.failures.is_empty() {
                return Err(Error::Check(render::sweep::failures(&outcome)));
            }
        }
        Command::Predict {
            run,
            images,
            checkpoint,
            raw,
            json,
            save_prepared,
            explain,
        } => {
            let request = predict::PredictRequest {
                run,
                images,
                weights: checkpoint.into(),
                raw,
                save_prepared,
                explain,
            };
            let results = predict::predict(&request, backend)?;
            let mut failed = 0;
            for (file, result) in request.images.iter().zip(&results) {
                if let (Ok(p), Some(dir)) = (result, &request.save_prepared)
                    && let Some(e) = &p.explanation
                {
                    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                    let written = mnist_report::figures::explain::explanation(e, dir, &stem)?;
                    if !json {
                        for path in written {
                            eprintln!("wrote {}", path.display());
                        }
                    }
                }
                match result {
                    Ok(p) if json => println!("{}", render::prediction_json(p)),
                    Ok(p) => println!("{}", render::prediction_line(p)),
                    Err(e) => {
                        failed += 1;
                        if json {
                            println!("{}", render::prediction_error_json(file, e));
                        }
                        eprintln!("error: {e}");
                    }
                }
            }
            if failed > 0 {
                return Err(Error::Check(format!(
                    "{failed} of {} images could not be predicted",
                    results.len()
                )));
            }
        }
        Command::Bench {
            epochs,
            repeats,
            mlp_config,
            linear_config,
            sweep,
            torch,
            torch_script,
            out,
            point,
            only,
        } => {
            if let Some(config) = only {
                let plan = Plan::load(&config)?;
                let quiet = mnist_trainer::training::observer::quiet();
                let timing = speed::time_config(&plan, epochs, repeats, backend, quiet)?;
                println!("{}", render::json_line(&timing));
            } else if let Some((hidden, batch)) = point {
                let plan = Plan::load(&mlp_config)?;
                let quiet = mnist_trainer::training::observer::quiet();
                let timing = sweep::time_point(&plan, hidden, batch, epochs, backend, quiet)?;
                println!("{}", render::json_line(&timing));
            } else if sweep {
                let exe = std::env::current_exe()
                    .map_err(|e| Error::Check(format!("cannot find this program's path: {e}")))?;
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let request = sweep::Sweep {
                    config: mlp_config.clone(),
                    epochs,
                    torch: torch.map(|python| sweep::Torch {
                        python,
                        script: torch_script,
                        threads,
                    }),
                };
                // Each point is this program again, `bench --point`, in a process of its own.
                let launch = |p: sweep::Point| {
                    let mut command = Process::new(&exe);
                    command
                        .args(["--backend", backend.name, "bench", "--point"])
                        .arg(format!("{}x{}", p.hidden, p.batch))
                        .args(["--epochs", &p.epochs.to_string(), "--mlp-config"])
                        .arg(&mlp_config);
                    command
                };
                let rows = sweep::run(&request, launch, |row| {
                    println!("{}", render::sweep_row(row));
                })?;
                sweep::write(&rows, &out)?;
                print!("{}", render::sweep_done(&rows, &out));
            } else {
                let request = speed::BenchRequest {
                    epochs,
                    mlp: Plan::load(&mlp_config)?,
                    linear: Plan::load(&linear_config)?,
                    repeats,
                };
                let report = speed::bench(&request, backend, Arc::new(Console::new()))?;
                print!("\n{}", render::bench(&report));
            }
        }
        Command::Serve {
            artifacts,
            addr,
            configs,
            max_parallel,
        } => {
            if let Some(warning) = render::serve_warning(addr) {
                eprintln!("{warning}");
            }
            // Runs launched from the browser are this very program, `mnist train`.
            let program = std::env::current_exe()
                .map_err(|e| Error::Check(format!("cannot find this program's path: {e}")))?;
            let mut config = mnist_serve::ServeConfig::new(artifacts, addr);
            config.configs = configs;
            config.trainer = Some(mnist_serve::TrainerProgram {
                program,
                backend: backend.name.to_string(),
            });
            if let Some(n) = max_parallel {
                config.max_parallel = n.get();
            }
            mnist_serve::serve(&config, backend.clone(), |serving| {
                // Not `println!`: a reader that has gone (`| head -1`, a test that read the
                // first line) would make it panic and take the server down.
                let line = render::serving(&config.artifacts, serving);
                let _ = writeln!(std::io::stdout(), "{line}");
            })?;
        }
        Command::Compare { runs, out } => {
            let runs: Vec<RunDir> = runs.into_iter().map(RunDir::new).collect();
            mnist_report::compare::write_static(&runs, &out, backend)?;
            println!("{}", render::wrote("compare", &out));
        }
        Command::Export {
            run,
            checkpoint,
            out,
        } => {
            let request = export::ExportRequest {
                run,
                weights: checkpoint.into(),
                out,
            };
            let done = export::export(&request, backend)?;
            println!("{}", render::exported(&done));
        }
        Command::Report { run } => {
            let run = RunDir::new(run);
            mnist_report::regenerate(&run, backend)?;
            println!("{}", render::wrote("report", &run.report_html()));
        }
        Command::Gradcheck { config } => {
            let source = match config {
                Some(path) => gradcheck::Source::of_plan(&Plan::load(&path)?),
                None => gradcheck::Source::default(),
            };
            let report = gradcheck::run(&source, &backend.device)?;
            print!("{}", render::gradcheck(&report));
            if !report.passed() {
                return Err(Error::Check(
                    "the hand-written gradient disagrees with its references beyond tolerance"
                        .into(),
                ));
            }
        }
        Command::Eval {
            run,
            checkpoint,
            data,
        } => {
            let e = mnist_report::eval(
                &RunDir::new(run),
                checkpoint.into(),
                data.as_deref(),
                backend,
            )?;
            print!("{}", render::evaluation(&e, backend));
        }
    }
    Ok(())
}
