//! Everything behind the `mnist` command: data reports now; training, evaluation and figures next.

pub mod info;
pub mod sys;
