//! Every figure of a run, as PNG files drawn with `plotters` (font embedded: no system fonts
//! needed). The course's figures and the figures of any run in separate files, each with its
//! sizes and constants; drawing helpers in `draw`,
//! the CNN's own figures in `cnn`, line charts in `chart` (both also drawn with by `mnist-bench`'s sweep figure).
//! `mnist sweep`'s figures (accuracy against the swept keys, the points' loss curves) in `sweep`.

pub mod augment;
pub mod chart;
pub mod cnn;
pub mod compare;
pub mod course;
pub mod draw;
pub mod evolution;
pub mod explain;
pub mod rates;
pub mod run;
pub mod sweep;
pub mod updates;

pub use draw::diverging;
