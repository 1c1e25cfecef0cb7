//! JavaScript values to Rust strings.
//!
//! JavaScript strings are UTF-16 and may hold lone surrogates, which QuickJS writes out as
//! WTF-8 (invalid UTF-8). Each one becomes a single U+FFFD here instead of failing the
//! conversion, so hostile text can never cost a log entry or an error message.

use rquickjs::{Value, qjs};

/// `String(value)` as UTF-8, or `None` when the conversion itself throws (the exception is
/// cleared).
pub fn to_string_lossy(value: &Value<'_>) -> Option<String> {
    let ctx = value.ctx().as_raw().as_ptr();
    let mut len = 0;
    // SAFETY: `value` is alive in `ctx`; the returned buffer holds `len` bytes and is freed
    // with `JS_FreeCString` once copied.
    unsafe {
        let ptr = qjs::JS_ToCStringLen(ctx, &mut len, value.as_raw());
        if ptr.is_null() {
            qjs::JS_FreeValue(ctx, qjs::JS_GetException(ctx));
            return None;
        }
        let text = wtf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len));
        qjs::JS_FreeCString(ctx, ptr);
        Some(text)
    }
}

/// UTF-8 with every run of invalid bytes (a WTF-8 surrogate is three) as one U+FFFD.
fn wtf8_lossy(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    let mut replaced = false;
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        replaced &= chunk.valid().is_empty();
        if !chunk.invalid().is_empty() && !replaced {
            text.push(char::REPLACEMENT_CHARACTER);
            replaced = true;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_utf8_is_kept() {
        assert_eq!(wtf8_lossy("héllo 🌍".as_bytes()), "héllo 🌍");
    }

    #[test]
    fn a_lone_surrogate_becomes_one_replacement() {
        // U+D800 in WTF-8, between text.
        assert_eq!(wtf8_lossy(b"a\xED\xA0\x80b"), "a\u{FFFD}b");
        assert_eq!(wtf8_lossy(b"\xED\xB0\x80"), "\u{FFFD}");
    }
}
