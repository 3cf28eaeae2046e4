//! Checks made before any YAML is parsed: no control character (reported on its
//! own line), and a bound on nesting: the parser's time
//! grows faster than linearly with depth (`[[[...]]]` 100,000 deep takes about a
//! minute), while a config needs three levels. Counted: flow brackets (`[`, `{`)
//! outside quotes and comments, and block nesting (indentation columns, compact
//! `- - -` sequence markers).

use crate::error::{Error, Result};

/// The deepest nesting a config may have (a config needs 3).
pub const MAX_DEPTH: usize = 32;

/// The widest indentation a config line may have, in columns.
pub const MAX_INDENT: usize = 256;

/// Rejects `text` (from `file`) nested deeper than [`MAX_DEPTH`] or indented past
/// [`MAX_INDENT`], naming the line and column where the limit is passed.
pub fn check_depth(file: &str, text: &str) -> Result<()> {
    let mut flow = 0usize;
    let deep = |line: usize, col: usize, what: &str| {
        Error::Input {
        file: file.into(),
        at: format!("line {line}, column {col}"),
        what: format!(
            "{what} deeper than {MAX_DEPTH} levels (a config needs 3; nesting is bounded before parsing)"
        ),
    }
    };
    for (ln, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let ln = ln + 1;
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if indent > MAX_INDENT {
            return Err(Error::Input {
                file: file.into(),
                at: format!("line {ln}"),
                what: format!("indented {indent} columns, more than {MAX_INDENT}"),
            });
        }
        // Compact block sequences: `- - - x` nests one level per marker.
        let mut rest = line.trim_start_matches([' ', '\t']);
        let mut markers = 0usize;
        while let Some(r) = rest
            .strip_prefix('-')
            .filter(|r| r.is_empty() || r.starts_with([' ', '\t']))
        {
            markers += 1;
            if markers > MAX_DEPTH {
                return Err(deep(ln, line.len() - r.len(), "block sequences nested"));
            }
            rest = r.trim_start_matches([' ', '\t']);
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (col, c) in line.char_indices() {
            // YAML's printable set: a control character is an error on its own
            // line (the parser would report it elsewhere).
            let printable = matches!(c, '\t' | '\r' | '\u{85}')
                || !(c.is_control() || c == '\u{feff}' && (ln, col) != (1, 0));
            if !printable {
                return Err(Error::Input {
                    file: file.into(),
                    at: format!("line {ln}, column {}", col + 1),
                    what: format!(
                        "the control character {} (YAML text allows tab and line breaks only)",
                        crate::guard::shown(&c.to_string())
                    ),
                });
            }
            match (quote, c) {
                (Some('\''), '\'') | (Some('"'), '"') if prev != '\\' || quote == Some('\'') => {
                    quote = None
                }
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') if prev == ' ' || prev == '\t' || col == 0 => break,
                (None, '[' | '{') => {
                    flow += 1;
                    if flow > MAX_DEPTH {
                        return Err(deep(ln, col + 1, "flow collections nested"));
                    }
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let t = std::time::Instant::now();
        let e = check_depth("c.yaml", &deep).unwrap_err().to_string();
        assert!(t.elapsed().as_secs() < 1);
        assert!(
            e.contains("line 1, column 33") && e.contains("deeper than 32"),
            "{e}"
        );
        assert!(check_depth("c.yaml", "pe:\n  policy: sysmt\n  x: [1, [2, {a: 3}]]\n").is_ok());
        assert!(check_depth("c.yaml", &"- ".repeat(40)).is_err());
        assert!(check_depth("c.yaml", &format!("a: '{}'", "[".repeat(100))).is_ok());
        assert!(check_depth("c.yaml", &format!("a: 1 # {}", "[".repeat(100))).is_ok());
        assert!(check_depth("c.yaml", &format!("{}a: 1", " ".repeat(300))).is_err());
        let e = check_depth("c.yaml", "pe:\n  threads: 2\0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2, column 13") && e.contains("\\0"), "{e}");
    }
}
