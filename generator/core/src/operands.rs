//! Operand files: reading per-cycle lane operands from CSV (`a0,w0,a1,w1,...`), with
//! every out-of-range or malformed value rejected by file, line and field. Nothing
//! is clamped.

use crate::error::{Error, Result};
use crate::model::MAX_LANES;

/// One cycle's lane operands read from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LaneOperands {
    /// Activations (0..=255).
    pub acts: [u8; MAX_LANES],
    /// Weights (−128..=127).
    pub wgts: [i8; MAX_LANES],
}

/// Splits a text file into lines: `\n`, `\r\n` and a lone `\r` all end a line
/// (files saved with classic Mac line breaks read the same). A line that is not
/// UTF-8 is an error naming `file` and the line.
pub fn text_lines<'a>(bytes: &'a [u8], file: &str) -> Result<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |from: usize, to: usize, out: &mut Vec<&'a str>| -> Result<()> {
        let line = std::str::from_utf8(&bytes[from..to]).map_err(|e| Error::Input {
            file: file.into(),
            at: format!("line {}, byte {}", out.len() + 1, e.valid_up_to() + 1),
            what: "not UTF-8 text (save the file as UTF-8 or ASCII)".into(),
        })?;
        out.push(line);
        Ok(())
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                push(start, i, &mut out)?;
                start = i + 1;
            }
            b'\r' => {
                push(start, i, &mut out)?;
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        push(start, bytes.len(), &mut out)?;
    }
    Ok(out)
}

/// Parses CSV bytes as [`parse_lane_csv`] does, after [`text_lines`] (so a non-UTF-8
/// line is reported by number).
pub fn parse_lane_csv_bytes(bytes: &[u8], lanes: usize, file: &str) -> Result<Vec<LaneOperands>> {
    parse_lines(&text_lines(bytes, file)?, lanes, file)
}

/// Parses CSV text holding one cycle per line as `a0,w0,a1,w1,...` for `lanes` lanes.
/// Blank lines and lines starting with `#` are skipped, as is a first line naming
/// the columns (`a0,w0,...`). `file` names the source in errors.
pub fn parse_lane_csv(text: &str, lanes: usize, file: &str) -> Result<Vec<LaneOperands>> {
    parse_lines(&text_lines(text.as_bytes(), file)?, lanes, file)
}

fn parse_lines(lines: &[&str], lanes: usize, file: &str) -> Result<Vec<LaneOperands>> {
    let mut out = Vec::new();
    let header: Vec<String> = (0..lanes)
        .flat_map(|l| [format!("a{l}"), format!("w{l}")])
        .collect();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if out.is_empty() && fields.first().is_some_and(|f| f.starts_with('a')) {
            if fields != header {
                return Err(Error::Input {
                    file: file.into(),
                    at: format!("line {}", i + 1),
                    what: format!(
                        "header `{line}` does not name the {lanes}-lane columns `{}`",
                        header.join(",")
                    ),
                });
            }
            continue;
        }
        if fields.len() != 2 * lanes {
            return Err(Error::Input {
                file: file.into(),
                at: format!("line {}", i + 1),
                what: format!(
                    "{} fields, expected {} ({}) for {lanes} lane(s)",
                    fields.len(),
                    2 * lanes,
                    header.join(",")
                ),
            });
        }
        let mut ops = LaneOperands::default();
        for (k, f) in fields.iter().enumerate() {
            let lane = k / 2;
            let (name, lo, hi) = if k % 2 == 0 {
                (format!("a{lane}"), 0, 255)
            } else {
                (format!("w{lane}"), -128, 127)
            };
            let bad = |what: String| Error::Input {
                file: file.into(),
                at: format!("line {}, field {name}", i + 1),
                what,
            };
            let v: i64 = f
                .parse()
                .map_err(|_| bad(format!("`{f}` is not an integer")))?;
            if !(lo..=hi).contains(&v) {
                return Err(bad(format!("{v} is out of range {lo}..{hi}")));
            }
            if k % 2 == 0 {
                ops.acts[lane] = v as u8;
            } else {
                ops.wgts[lane] = v as i8;
            }
        }
        out.push(ops);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lanes_and_skips_header_and_comments() {
        let v = parse_lane_csv("a0,w0,a1,w1\n# c\n255,-128,0,7\n\n1,2,3,4\n", 2, "x").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].acts[0], 255);
        assert_eq!(v[0].wgts[0], -128);
        assert_eq!(v[1].wgts[1], 4);
    }

    #[test]
    fn out_of_range_names_file_line_field_and_value() {
        let e = parse_lane_csv("1,2\n256,0\n", 1, "ops.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ops.csv") && e.contains("line 2") && e.contains("a0") && e.contains("256"),
            "{e}"
        );
        let e = parse_lane_csv("1,-129\n", 1, "ops.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("w0") && e.contains("-129"), "{e}");
        let e = parse_lane_csv("1,2,3\n", 2, "ops.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 fields, expected 4"), "{e}");
        let e = parse_lane_csv("x,2\n", 1, "ops.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("not an integer"), "{e}");
    }
}
