//! The one formatter for values in messages: control and invisible characters
//! escaped (a raw ESC, BEL or NUL never reaches the terminal; a byte-order mark
//! shows as `\u{feff}`), line breaks shown as `\n` so a message stays one line,
//! and long values truncated with their length. [`crate::error::Error`]'s display
//! passes every value and location through it.

/// Characters of a value shown before it is truncated.
pub const SHOWN_CHARS: usize = 120;
/// Characters of a description (which may quote a parser's message) shown.
pub const SHOWN_TEXT_CHARS: usize = 400;

/// True for characters that do not print as themselves: controls (C0, DEL, C1),
/// and invisible formatting marks (zero-width, bidirectional overrides, the
/// byte-order mark).
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

fn escape(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `s` escaped and, past `max` characters, truncated with its length in bytes.
pub fn shown_max(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (chars, c) in s.chars().enumerate() {
        if chars >= max {
            out.push_str(&format!("... ({} bytes in all)", s.len()));
            return out;
        }
        if invisible(c) {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    out
}

/// A value from input for a message: see the module documentation.
pub fn shown(s: &str) -> String {
    shown_max(s, SHOWN_CHARS)
}

/// A description for a message (longer limit than [`shown`]).
pub fn shown_text(s: &str) -> String {
    shown_max(s, SHOWN_TEXT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_truncated() {
        assert_eq!(shown("a\x1b[31mb\x07\0"), "a\\x1b[31mb\\x07\\0");
        assert_eq!(shown("\u{feff}1,2"), "\\u{feff}1,2");
        assert_eq!(shown("x\ny"), "x\\ny");
        let long = "7".repeat(1 << 20);
        let s = shown(&long);
        assert!(
            s.len() < 200 && s.ends_with("(1048576 bytes in all)"),
            "{s}"
        );
        assert_eq!(shown("sysmt2"), "sysmt2");
        assert_eq!(shown("ünïcode"), "ünïcode");
    }
}
