//! TypeScript to JavaScript, for every tier: the same front end on both, so a workload's
//! TypeScript errors and positions do not depend on where it runs.
//!
//! Types are replaced by white space (`swc_ts_fast_strip`, strip-only mode), so every line
//! and column of the output is the same as in the user's TypeScript and error positions
//! need no source map. Syntax that cannot be erased (enums, namespaces, parameter
//! properties) falls back to a full transform, whose positions may shift.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use swc_common::errors::{DiagnosticBuilder, Emitter, Handler};
use swc_common::sync::Lrc;
use swc_common::{GLOBALS, Globals, SourceMap, Span};
use swc_ts_fast_strip::{ErrorCode, Mode, Options};

use crate::backend::{Language, WorkloadError};

/// A workload's code as JavaScript: as it is, or TypeScript with its types stripped.
pub fn javascript(code: &str, language: Language) -> Result<Cow<'_, str>, WorkloadError> {
    match language {
        Language::Javascript => Ok(Cow::Borrowed(code)),
        Language::Typescript => strip_types(code).map(Cow::Owned),
    }
}

/// Strips TypeScript types from an ES module, or explains the syntax error.
pub fn strip_types(source: &str) -> Result<String, WorkloadError> {
    GLOBALS.set(&Globals::new(), || {
        match transform(source, Mode::StripOnly) {
            Err(Failure::Unsupported) => transform(source, Mode::Transform),
            other => other,
        }
        .map_err(|failure| match failure {
            Failure::Syntax(error) => error,
            Failure::Unsupported => {
                WorkloadError::new("SyntaxError", "unsupported TypeScript syntax")
            }
        })
    })
}

enum Failure {
    Syntax(WorkloadError),
    Unsupported,
}

fn transform(source: &str, mode: Mode) -> Result<String, Failure> {
    let cm: Lrc<SourceMap> = Default::default();
    let first = Arc::new(Mutex::new(None));
    let handler =
        Handler::with_emitter(false, false, Box::new(FirstDiagnostic(Arc::clone(&first))));
    let options = Options {
        module: Some(true),
        filename: Some("workload.ts".into()),
        mode,
        ..Default::default()
    };
    match swc_ts_fast_strip::operate(&cm, &handler, source.to_owned(), options) {
        Ok(output) => Ok(output.code),
        Err(err) if matches!(err.code, ErrorCode::UnsupportedSyntax) => Err(Failure::Unsupported),
        Err(err) => {
            let first = first.lock().expect("diagnostic lock").take();
            let mut error = WorkloadError::new("SyntaxError", err.message);
            if let Some((message, span)) = first {
                error.message = message;
                if let Ok(loc) = cm.try_lookup_char_pos(span.lo) {
                    error.line = u32::try_from(loc.line).ok();
                    error.column = u32::try_from(loc.col.0 + 1).ok();
                }
            }
            Err(Failure::Syntax(error))
        }
    }
}

/// Keeps the first diagnostic's message and position.
struct FirstDiagnostic(Arc<Mutex<Option<(String, Span)>>>);

impl Emitter for FirstDiagnostic {
    fn emit(&mut self, db: &mut DiagnosticBuilder<'_>) {
        let mut first = self.0.lock().expect("diagnostic lock");
        if first.is_none() {
            let span = db.span.primary_span().unwrap_or_default();
            *first = Some((db.message(), span));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_erased_and_positions_kept() {
        let ts = "const n: number = 1;\nexport default (x: { a: number }): number => x.a + n;\n";
        let js = strip_types(ts).unwrap();
        assert!(!js.contains("number"), "{js}");
        assert_eq!(js.lines().count(), ts.lines().count());
        let col = |s: &str| s.lines().nth(1).unwrap().find("x.a").unwrap();
        assert_eq!(col(&js), col(ts));
    }

    #[test]
    fn enums_fall_back_to_a_transform() {
        let js = strip_types("enum Color { Red }\nexport default () => Color.Red;\n").unwrap();
        assert!(!js.contains("enum "), "{js}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = strip_types("const a = 1;\nconst b: = 2;\n").unwrap_err();
        assert_eq!(err.name, "SyntaxError");
        assert_eq!(err.line, Some(2));
        assert!(err.column.is_some());
        assert!(!err.message.is_empty());
    }
}
