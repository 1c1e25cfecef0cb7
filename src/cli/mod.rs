//! Clients of a running server for scripts and terminals: `vulcan run FILE`,
//! `vulcan experiment routing|limits` and `vulcan calibrate`.

mod calibrate;
mod experiment;
mod http;
mod limits;
mod run;
mod table;

pub use calibrate::calibrate;
pub use experiment::experiment;
pub use run::run;
