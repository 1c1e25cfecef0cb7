//! JSON from a guest as well-formed Unicode, mended where each tier reads its guest's
//! answer. `JSON.stringify` writes a lone surrogate (`"\ud800"`) as an escape that JSON's
//! grammar allows but that is not Unicode text, and strict parsers (serde_json, for one)
//! refuse the whole document. Each lone surrogate becomes U+FFFD, as when JavaScript
//! encodes such a string to UTF-8 (`TextEncoder`); pairs are kept.

use std::borrow::Cow;

/// A JSON text with every lone surrogate escape replaced by `\ufffd`.
pub fn well_formed_text(text: &str) -> Cow<'_, str> {
    if has_surrogate_escape(text) {
        Cow::Owned(mend(text))
    } else {
        Cow::Borrowed(text)
    }
}

fn has_surrogate_escape(text: &str) -> bool {
    text.as_bytes().windows(4).any(|w| {
        w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D') && is_surrogate_nibble(w[3])
    })
}

fn is_surrogate_nibble(b: u8) -> bool {
    matches!(b, b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
}

/// The code unit of the `\uXXXX` escape starting at `at`, if there is one.
fn escape_at(bytes: &[u8], at: usize) -> Option<u16> {
    let hex = bytes.get(at..at + 6)?;
    if hex[0] != b'\\' || hex[1] != b'u' {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
}

fn mend(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = escape_at(bytes, i) else {
            i += 2; // `\\`, `\"`, `\n`, …: the escaped character is never a backslash start
            continue;
        };
        let high = (0xD800..0xDC00).contains(&unit);
        let low = (0xDC00..0xE000).contains(&unit);
        let paired =
            high && escape_at(bytes, i + 6).is_some_and(|next| (0xDC00..0xE000).contains(&next));
        if paired {
            i += 12;
        } else if high || low {
            out.push_str(&text[copied..i]);
            out.push_str("\\ufffd");
            i += 6;
            copied = i;
        } else {
            i += 6;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mended(json: &str) -> String {
        well_formed_text(json).into_owned()
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(mended(r#""\ud800 and \uDFFF""#), r#""\ufffd and \ufffd""#);
        assert_eq!(
            mended(r#"["a\udc00", {"k": "\ud83d"}]"#),
            r#"["a\ufffd", {"k": "\ufffd"}]"#
        );
        let value: serde_json::Value = serde_json::from_str(&mended(r#""\ud800x""#)).unwrap();
        assert_eq!(value, "\u{fffd}x");
    }

    #[test]
    fn pairs_other_escapes_and_escaped_backslashes_are_kept() {
        for kept in [
            r#""\ud83d\ude00""#,
            r#""\u00e9\n\"""#,
            r#""\\ud800""#,
            "[1, 2]",
        ] {
            assert_eq!(mended(kept), kept);
        }
    }
}
