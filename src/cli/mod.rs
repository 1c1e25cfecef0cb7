//! Clients of a running server for scripts and terminals: `vulcan run FILE`,
//! `vulcan experiment routing|limits` and `vulcan calibrate`; and `vulcan keys` and
//! `vulcan tenants`, which work on the agent's store itself.

mod calibrate;
mod experiment;
mod http;
mod keys;
mod limits;
mod run;
mod table;

pub use calibrate::calibrate;
pub use experiment::experiment;
pub use keys::{keys, tenants};
pub use run::run;
