//! The run: what a run is asked to do and what it leaves behind. A TOML config validated into a
//! [`plan::Plan`], the run directory that owns every file name inside it ([`dir::RunDir`]), a
//! sweep's folder likewise ([`sweep_dir::SweepDir`]), the metrics files, the weight snapshots
//! ([`snapshots`]), and the atomic writes
//! everything on disk goes through.

pub mod config;
pub mod dir;
pub mod fsutil;
pub mod live;
pub mod metrics;
pub mod plan;
pub mod snapshots;
pub mod sweep_dir;
