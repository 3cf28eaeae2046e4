//! Report output shared by `compare` and `eval`: aligned terminal tables, CSV,
//! Markdown, and a dependency-free SVG scatter chart.

/// A table of already formatted cells with a header row.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Aligned text: first column left, the rest right.
    pub fn to_text(&self) -> String {
        let n = self.header.len();
        let mut w = vec![0; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |r: &Vec<String>| {
            r.iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        format!("{c:<width$}", width = w[i])
                    } else {
                        format!("{c:>width$}", width = w[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let mut s = line(&self.header) + "\n";
        s += &(w
            .iter()
            .map(|&x| "-".repeat(x))
            .collect::<Vec<_>>()
            .join("  ")
            + "\n");
        for r in &self.rows {
            s += &(line(r) + "\n");
        }
        s
    }

    /// CSV (cells containing commas or quotes are quoted).
    pub fn to_csv(&self) -> String {
        let cell = |c: &String| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        };
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|r| r.iter().map(cell).collect::<Vec<_>>().join(",") + "\n")
            .collect()
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("| {} |\n", self.header.join(" | "));
        s += &format!(
            "|{}|\n",
            self.header
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---" } else { "---:" })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            s += &format!("| {} |\n", r.join(" | "));
        }
        s
    }
}

/// One labelled point of a scatter chart.
#[derive(Debug, Clone)]
pub struct Point {
    /// Label drawn beside the point.
    pub label: String,
    /// X value.
    pub x: f64,
    /// Y value.
    pub y: f64,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&m| m >= v)
        .unwrap_or(10.0 * p)
}

/// An SVG scatter chart with axes from 0, ticks, labels and a title.
pub fn scatter_svg(title: &str, x_label: &str, y_label: &str, points: &[Point]) -> String {
    scatter(title, x_label, y_label, points, false)
}

/// [`scatter_svg`] for crowded charts: a label that would overlap another moves
/// down (or to the left of its point) and a thin line joins it to its point.
pub fn scatter_svg_spread(title: &str, x_label: &str, y_label: &str, points: &[Point]) -> String {
    scatter(title, x_label, y_label, points, true)
}

fn scatter(title: &str, x_label: &str, y_label: &str, points: &[Point], spread: bool) -> String {
    let (w, h, l, r, t, b) = (720.0, 480.0, 70.0, 30.0, 40.0, 60.0);
    let xmax = nice_max(points.iter().map(|p| p.x).fold(0.0, f64::max) * 1.08);
    let ymax = nice_max(points.iter().map(|p| p.y).fold(0.0, f64::max) * 1.08);
    let px = |x: f64| l + (w - l - r) * x / xmax;
    let py = |y: f64| h - b - (h - t - b) * y / ymax;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        w / 2.0,
        esc(title)
    );
    for i in 0..=5 {
        let (xv, yv) = (xmax * i as f64 / 5.0, ymax * i as f64 / 5.0);
        s += &format!(
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            t,
            h - b,
            h - b + 16.0,
            fmt_tick(xv),
            x = px(xv)
        );
        s += &format!(
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            l,
            w - r,
            l - 6.0,
            py(yv) + 4.0,
            fmt_tick(yv),
            y = py(yv)
        );
    }
    s += &format!(
        "<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/>\n",
        h - b,
        w - r,
        h - b,
        h - b
    );
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n<text transform=\"translate(18,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        (l + w - r) / 2.0,
        h - 18.0,
        esc(x_label),
        (t + h - b) / 2.0,
        esc(y_label)
    );
    if !spread {
        for p in points {
            s += &format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#1f77b4\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
                px(p.x),
                py(p.y),
                px(p.x) + 6.0,
                py(p.y) - 6.0,
                esc(&p.label)
            );
        }
        return s + "</svg>\n";
    }
    // Label boxes (x0, y0, x1, y1), baseline at y1 - 2; 12 px text, ~7 px a char.
    let mut placed: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut order: Vec<&Point> = points.iter().collect();
    order.sort_by(|a, b| b.y.total_cmp(&a.y).then(a.x.total_cmp(&b.x)));
    for p in order {
        let (cx, cy) = (px(p.x), py(p.y));
        let wl = 7.0 * p.label.chars().count() as f64;
        let hits = |bx: (f64, f64, f64, f64)| {
            placed
                .iter()
                .any(|q| bx.0 < q.2 && q.0 < bx.2 && bx.1 < q.3 && q.1 < bx.3)
                || points.iter().any(|o| {
                    let (ox, oy) = (px(o.x), py(o.y));
                    ox + 4.0 > bx.0 && ox - 4.0 < bx.2 && oy + 4.0 > bx.1 && oy - 4.0 < bx.3
                })
        };
        let mut best = (cx + 6.0, cy - 18.0, cx + 6.0 + wl, cy - 4.0);
        'find: for k in 0..40 {
            for side in [1.0, -1.0] {
                let dy = -18.0 + 14.0 * f64::from(k);
                let x0 = if side > 0.0 { cx + 8.0 } else { cx - 8.0 - wl };
                let bx = (x0, cy + dy, x0 + wl, cy + dy + 14.0);
                if !hits(bx) && bx.0 >= l && bx.2 <= w - r && bx.1 >= t && bx.3 <= h - b {
                    best = bx;
                    break 'find;
                }
            }
        }
        placed.push(best);
        let (lx, ly) = (best.0, best.3 - 3.0);
        let near_x = if best.0 > cx { best.0 } else { best.2 };
        let moved = (best.1 - (cy - 18.0)).abs() > 0.5 || best.0 < cx;
        if moved {
            s += &format!(
                "<line x1=\"{cx:.1}\" y1=\"{cy:.1}\" x2=\"{near_x:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-width=\"0.7\"/>\n",
                best.1 + 7.0
            );
        }
        s += &format!(
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"#1f77b4\"/><text x=\"{lx:.1}\" y=\"{ly:.1}\">{}</text>\n",
            esc(&p.label)
        );
    }
    s + "</svg>\n"
}

fn fmt_tick(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else if (v * 10.0) == (v * 10.0).round() {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_render_in_every_format() {
        let mut t = Table::new(&["design", "area"]);
        t.rows.push(vec!["a,b".into(), "1".into()]);
        assert!(t.to_csv().contains("\"a,b\",1"));
        assert!(t.to_markdown().starts_with("| design | area |\n|---|---:|"));
        assert!(t.to_text().contains("a,b"));
    }

    #[test]
    fn svg_has_a_point_per_entry() {
        let pts = vec![
            Point {
                label: "x<1>".into(),
                x: 1.0,
                y: 2.0,
            },
            Point {
                label: "y".into(),
                x: 3.0,
                y: 0.5,
            },
        ];
        let s = scatter_svg("t", "x", "y", &pts);
        assert_eq!(s.matches("<circle").count(), 2);
        assert!(s.contains("x&lt;1&gt;"));
    }

    #[test]
    fn spread_labels_do_not_overlap() {
        let pts: Vec<Point> = (0..10)
            .map(|i| Point {
                label: format!("design-{i}"),
                x: 3.6 + 0.01 * f64::from(i),
                y: 40.0 + 0.3 * f64::from(i),
            })
            .chain([Point {
                label: "far".into(),
                x: 7.0,
                y: 34.0,
            }])
            .collect();
        let s = scatter_svg_spread("t", "x", "y", &pts);
        if let Ok(p) = std::env::var("SMTGEN_SVG_OUT") {
            std::fs::write(p, &s).unwrap();
        }
        // Label boxes from the drawn text: 7 px a char, 14 px high.
        let boxes: Vec<(f64, f64, f64)> = s
            .lines()
            .filter(|l| l.contains("<circle"))
            .map(|l| {
                let num = |k: &str| -> f64 {
                    let i = l.rfind(k).unwrap() + k.len();
                    l[i..].split('"').next().unwrap().parse().unwrap()
                };
                let text = l.rsplit('>').nth(1).unwrap().trim_end_matches("</text");
                (num(" x=\""), num(" y=\""), 7.0 * text.len() as f64)
            })
            .collect();
        assert_eq!(boxes.len(), pts.len());
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let apart = a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || (a.1 - b.1).abs() >= 14.0;
                assert!(apart, "labels at {a:?} and {b:?} overlap");
            }
        }
    }
}
