//! Clients of a running server for scripts and terminals: `vulcan run FILE` and
//! `vulcan experiment routing`.

mod experiment;
mod run;

pub use experiment::experiment;
pub use run::run;
