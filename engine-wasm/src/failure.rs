//! What a workload threw, as the [`ErrorInfo`] the host reports.
//!
//! Reading a thrown value may run workload code (getters, `toString`); whatever that code
//! does, the description degrades to fewer fields instead of failing.

use rquickjs::{Ctx, Error, Value};

use crate::protocol::ErrorInfo;
use crate::run::MODULE_NAME;
use crate::text::to_string_lossy;

/// Describes the exception pending behind `error`; any other rquickjs error is the
/// engine's own and becomes an `InternalError`.
pub fn caught(ctx: &Ctx<'_>, error: Error) -> ErrorInfo {
    match error {
        Error::Exception => thrown(&ctx.catch()),
        other => ErrorInfo::new("InternalError", other.to_string()),
    }
}

/// Describes a thrown or rejected value: an `Error`'s own fields, anything else as
/// `Error: String(value)`.
fn thrown(value: &Value<'_>) -> ErrorInfo {
    let Some(error) = value.as_object().filter(|object| object.is_error()) else {
        let message = to_string_lossy(value).unwrap_or_else(|| "unprintable value".to_owned());
        return ErrorInfo::new("Error", message);
    };
    let field = |key: &str| {
        let value = error.get::<_, Value>(key).ok()?;
        (!value.is_undefined()).then(|| to_string_lossy(&value))?
    };
    let stack = field("stack").filter(|stack| !stack.is_empty());
    let (line, column) = stack.as_deref().and_then(position).unzip();
    ErrorInfo {
        name: field("name").unwrap_or_else(|| "Error".to_owned()),
        message: field("message").unwrap_or_default(),
        line,
        column,
        stack,
    }
}

/// The first `workload.js:LINE:COLUMN` in a QuickJS stack trace.
fn position(stack: &str) -> Option<(u32, u32)> {
    stack.lines().find_map(|frame| {
        let (_, at) = frame.split_once(MODULE_NAME)?;
        let (line, rest) = at.strip_prefix(':')?.split_once(':')?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        Some((line.parse().ok()?, rest[..digits].parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_of_a_syntax_error() {
        assert_eq!(position("    at workload.js:3:5\n"), Some((3, 5)));
    }

    #[test]
    fn position_skips_native_frames() {
        let stack = "    at parse (native)\n    at main (workload.js:12:20)\n    at <eval> (workload.js:1:1)\n";
        assert_eq!(position(stack), Some((12, 20)));
    }

    #[test]
    fn position_is_unknown_outside_the_workload() {
        assert_eq!(position("    at fireNextTimer (prelude.js:98:5)\n"), None);
        assert_eq!(position(""), None);
    }
}
