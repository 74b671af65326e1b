//! `mnist`: the command line. It parses arguments and hands over to the library crates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mnist",
    version,
    about = "MNIST: a linear softmax classifier from scratch vs an MLP in Burn",
    long_about = "MNIST: a linear softmax classifier from scratch vs an MLP in Burn.\n\n\
        Data defaults to the repository's data/mnist_all.mat (the course's file, checksum-verified);\n\
        --data takes another course-layout .mat file or a folder of IDX files (MNIST, Fashion-MNIST)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect a data source.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Load a data source and print its splits, per-class counts, pixel range, load time and
    /// peak memory.
    Info {
        /// A course-layout .mat file or a folder of IDX files [default: data/mnist_all.mat]
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Data(DataCommand::Info { data }) => {
            mnist_trainer::info::data_info(data.as_deref())
                .map(|text| print!("{text}"))
                .map_err(Into::into)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
