//! A sweep file's `[sweep]` table: which keys of the run config vary over which values, and which
//! of their combinations run. Only the table itself is read here (no config is resolved), so the
//! web app can list a stored sweep's points as cheaply as the sweep itself does.
//!
//! Every key whose value is an array is swept: its path in the run config (`"optimizer.lr"`,
//! or unquoted `optimizer.lr`, which TOML reads as a nested table) and its values. The scalar
//! keys are reserved: `mode` (`"grid"`, the default, or `"random"`), `trials` and `seed` (random
//! mode only).

use std::num::NonZeroUsize;

use toml::Value;

use crate::run::config::defaults;

/// The reserved keys of `[sweep]`, and what each takes (for the error on any other scalar).
const RESERVED: &str = "mode = \"grid\" | \"random\", trials = N, seed = S";
/// The table's name.
pub const TABLE: &str = "sweep";

/// A swept key: its path in the run config, its values, and the line it is written on.
#[derive(Clone, Debug, PartialEq)]
pub struct SweptKey {
    pub path: String,
    pub values: Vec<Value>,
    pub line: Option<usize>,
}

/// Which combinations of the values run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every combination (the cartesian product), the first key varying slowest.
    Grid,
    /// `trials` combinations drawn from the grid without repeats by `seed`, in grid order.
    Random { trials: NonZeroUsize, seed: u64 },
}

/// A checked `[sweep]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// In the order the file writes them.
    pub keys: Vec<SweptKey>,
    pub mode: Mode,
}

/// One point of a sweep: the name of its run and the value of each swept key.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSpec {
    pub run: String,
    /// (key path, value), in the order of [`SweepSpec::keys`].
    pub values: Vec<(String, Value)>,
}

impl PointSpec {
    /// `optimizer.lr = 0.001, batch_size = 50`, for messages.
    pub fn describe(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl SweepSpec {
    /// Reads the `[sweep]` table of a sweep file's `text`; returns it with the base config's
    /// text: `text` with the table blanked out (every other line where it was, so errors in
    /// the base config name the lines of the file). Errors are one line naming the line and key.
    pub fn parse(text: &str) -> Result<(SweepSpec, String), String> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| {
            // The file is not TOML at all: say where, as the run config's errors do.
            match crate::run::config::RunConfig::parse(text) {
                Err(why) => why,
                Ok(_) => e.message().to_string(),
            }
        })?;
        let Some(table) = doc.get(TABLE) else {
            return Err(format!(
                "no [{TABLE}] table: a sweep file is a run config plus a [{TABLE}] table of the \
                 keys to vary, e.g. batch_size = [10, 50, 500] (to train one config, use `mnist \
                 train`)"
            ));
        };
        let Value::Table(table) = table else {
            return Err(format!("`{TABLE}` must be a table ([{TABLE}])"));
        };
        let lines = key_lines(text);
        let line_of = |path: &str| lines.iter().find(|(p, _)| p == path).map(|(_, l)| *l);
        let at = |path: &str| match line_of(&format!("{TABLE}.{path}")) {
            Some(l) => format!("line {l}, [{TABLE}] key `{path}`"),
            None => format!("[{TABLE}] key `{path}`"),
        };
        let mut keys = Vec::new();
        let (mut mode, mut trials, mut seed) = (None, None, None);
        let mut flat = Vec::new();
        flatten(table, "", &mut flat);
        for (path, value) in flat {
            match (path.as_str(), value) {
                (_, Value::Array(values)) => {
                    if values.is_empty() {
                        return Err(format!(
                            "{}: an empty list of values; give at least one",
                            at(&path)
                        ));
                    }
                    if let Some(twice) = values
                        .iter()
                        .enumerate()
                        .find_map(|(i, v)| values[..i].contains(v).then_some(v))
                    {
                        return Err(format!(
                            "{}: the value {twice} is listed twice; list each value once",
                            at(&path)
                        ));
                    }
                    if path == "artifacts" {
                        return Err(format!(
                            "{}: every run of a sweep goes into the base config's artifacts \
                             folder; set `artifacts` outside [{TABLE}]",
                            at(&path)
                        ));
                    }
                    keys.push(SweptKey {
                        line: line_of(&format!("{TABLE}.{path}")),
                        path,
                        values: values.clone(),
                    });
                }
                ("mode", Value::String(m)) if m == "grid" || m == "random" => mode = Some(m),
                ("mode", v) => {
                    return Err(format!(
                        "{}: mode = {v}: expected \"grid\" (every combination) or \"random\" \
                         (trials = N of them)",
                        at("mode")
                    ));
                }
                ("trials", Value::Integer(n)) if *n >= 1 => trials = Some(*n as u64),
                ("trials", v) => {
                    return Err(format!(
                        "{}: trials = {v}: expected a whole number of points, at least 1",
                        at("trials")
                    ));
                }
                ("seed", Value::Integer(s)) if *s >= 0 => seed = Some(*s as u64),
                ("seed", v) => {
                    return Err(format!(
                        "{}: seed = {v}: expected a whole number, 0 or more (an array of \
                         seeds sweeps the run config's seed)",
                        at("seed")
                    ));
                }
                (_, v) => {
                    return Err(format!(
                        "{}: {path} = {v} is neither a list of values to sweep (write \
                         {path} = [{v}, …]) nor a reserved key ({RESERVED})",
                        at(&path)
                    ));
                }
            }
        }
        keys.sort_by_key(|k| k.line.unwrap_or(usize::MAX));
        if keys.is_empty() {
            return Err(format!(
                "[{TABLE}] sweeps no key: give at least one key of the run config a list of \
                 values, e.g. batch_size = [10, 50, 500]"
            ));
        }
        let grid = grid_size(&keys);
        let mode = match mode.map(String::as_str) {
            Some("random") => {
                let Some(trials) = trials else {
                    return Err(format!(
                        "{}: mode = \"random\" needs trials = N, the number of points to draw",
                        at("mode")
                    ));
                };
                if grid.is_some_and(|g| trials > g as u64) {
                    return Err(format!(
                        "{}: trials = {trials} is more than the grid's {} points; draw at most \
                         that many, or use mode = \"grid\"",
                        at("trials"),
                        grid.unwrap_or(0)
                    ));
                }
                let Some(trials) = usize::try_from(trials).ok().and_then(NonZeroUsize::new) else {
                    return Err(format!("{}: trials = {trials} is too many", at("trials")));
                };
                // The run config's seed, where the base config writes one.
                let base_seed = match doc.get("seed") {
                    Some(Value::Integer(s)) if *s >= 0 => *s as u64,
                    _ => defaults::SEED,
                };
                Mode::Random {
                    trials,
                    seed: seed.unwrap_or(base_seed),
                }
            }
            _ => {
                for (key, set) in [("trials", trials.is_some()), ("seed", seed.is_some())] {
                    if set {
                        return Err(format!(
                            "{}: {key} applies to mode = \"random\"; remove it or set mode = \
                             \"random\"",
                            at(key)
                        ));
                    }
                }
                if grid.is_none() {
                    return Err(format!(
                        "[{TABLE}]: the grid has more points than can be counted; sweep fewer \
                         values or use mode = \"random\""
                    ));
                }
                Mode::Grid
            }
        };
        Ok((SweepSpec { keys, mode }, blank_table(text)))
    }

    /// How many points the grid has (`None`: more than a `usize` counts).
    pub fn grid_size(&self) -> Option<usize> {
        grid_size(&self.keys)
    }

    /// The points that run, with the names of their runs (`<sweep>-<key>-<value>-…`).
    pub fn points(&self, sweep: &str) -> Vec<PointSpec> {
        let indices: Vec<usize> = match self.mode {
            Mode::Grid => (0..self.grid_size().unwrap_or(0)).collect(),
            Mode::Random { trials, seed } => {
                use rand::SeedableRng;
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let grid = self.grid_size().unwrap_or(usize::MAX);
                let mut drawn = rand::seq::index::sample(&mut rng, grid, trials.get()).into_vec();
                // In grid order, so a table of them reads like the grid's.
                drawn.sort_unstable();
                drawn
            }
        };
        let labels = self.labels();
        indices
            .into_iter()
            .map(|index| {
                let values = self.point_values(index);
                let mut run = sweep.to_string();
                for ((_, value), label) in values.iter().zip(&labels) {
                    run += &format!("-{label}-{}", name_part(value));
                }
                PointSpec { run, values }
            })
            .collect()
    }

    /// The value of each key at grid index `index` (the last key varying fastest).
    fn point_values(&self, mut index: usize) -> Vec<(String, Value)> {
        let mut values = Vec::with_capacity(self.keys.len());
        for key in self.keys.iter().rev() {
            let n = key.values.len();
            values.push((key.path.clone(), key.values[index % n].clone()));
            index /= n;
        }
        values.reverse();
        values
    }

    /// Each key as run names spell it: its last segment (`lr` for `optimizer.lr`), or the whole
    /// path where two keys share their last segment.
    fn labels(&self) -> Vec<String> {
        let last = |p: &str| p.rsplit('.').next().unwrap_or(p).to_string();
        self.keys
            .iter()
            .map(|k| {
                let shared = self
                    .keys
                    .iter()
                    .filter(|o| last(&o.path) == last(&k.path))
                    .count()
                    > 1;
                sanitize(&if shared {
                    k.path.clone()
                } else {
                    last(&k.path)
                })
            })
            .collect()
    }
}

fn grid_size(keys: &[SweptKey]) -> Option<usize> {
    keys.iter()
        .try_fold(1usize, |n, k| n.checked_mul(k.values.len()))
}

/// The value as plain text: numbers and booleans as written by Rust (`0.001`, `500`), strings
/// without quotes, arrays and tables as their items joined by `_`.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("_"),
        Value::Table(t) => t
            .iter()
            .map(|(k, v)| format!("{k}_{}", value_text(v)))
            .collect::<Vec<_>>()
            .join("_"),
    }
}

/// A value as a piece of a run name.
fn name_part(value: &Value) -> String {
    sanitize(&value_text(value))
}

/// Keeps characters that are safe in a folder name and a URL segment (letters, digits, `.`,
/// `_`, `-`); anything else becomes `_`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The entries of a `[sweep]` table, nested tables flattened into dotted paths (TOML reads an
/// unquoted `optimizer.lr = [..]` as a table `optimizer` holding `lr`).
fn flatten<'a>(table: &'a toml::Table, prefix: &str, out: &mut Vec<(String, &'a Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(inner) => flatten(inner, &path, out),
            other => out.push((path, other)),
        }
    }
}

/// Every key of the document that is not a table, by dotted path, with its line; and the
/// byte span (start of its key, end of its value) of each.
fn key_spans(text: &str) -> Vec<(String, usize, std::ops::Range<usize>)> {
    use toml::de::{DeTable, DeValue};
    fn walk(
        table: &DeTable,
        prefix: &str,
        text: &str,
        out: &mut Vec<(String, usize, std::ops::Range<usize>)>,
    ) {
        for (k, v) in table {
            let name = k.get_ref().as_ref();
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            match v.get_ref() {
                DeValue::Table(inner) => walk(inner, &path, text, out),
                _ => {
                    let start = k.span().start;
                    let line = text[..start.min(text.len())].matches('\n').count() + 1;
                    out.push((path, line, start..v.span().end));
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(doc) = DeTable::parse(text) {
        walk(doc.get_ref(), "", text, &mut out);
    }
    out
}

/// The line of every non-table key, by dotted path.
fn key_lines(text: &str) -> Vec<(String, usize)> {
    key_spans(text)
        .into_iter()
        .map(|(path, line, _)| (path, line))
        .collect()
}

/// `text` with the `[sweep]` table's header and entries replaced by spaces (line breaks kept).
fn blank_table(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut blank = |range: std::ops::Range<usize>| {
        // From the start of the key's line to the end of the value's line.
        let start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
        let end = text[range.end..]
            .find('\n')
            .map_or(text.len(), |i| range.end + i);
        for b in &mut bytes[start..end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let prefix = format!("{TABLE}.");
    for (path, _, span) in key_spans(text) {
        if path.starts_with(&prefix) {
            blank(span);
        }
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let header = line.split('#').next().unwrap_or("").trim();
        let inner = header
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(str::trim);
        if inner.is_some_and(|t| t == TABLE || t.starts_with(&prefix)) {
            blank(offset..offset + line.trim_end().len());
        }
        offset += line.len();
    }
    // Only spaces replaced ASCII bytes of the table, so the text is still UTF-8; a multi-byte
    // character inside it (a comment) becomes spaces byte by byte.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "batch_size = 50\nepochs = 2\n\n[model]\nkind = \"linear\"\n\n\
                        [optimizer]\nkind = \"sgd\"\nlr = 0.01\n";

    fn parse(sweep: &str) -> Result<SweepSpec, String> {
        SweepSpec::parse(&format!("{BASE}\n[sweep]\n{sweep}")).map(|(s, _)| s)
    }

    #[test]
    fn a_grid_is_every_combination_first_key_slowest_named_after_the_values() {
        let spec = parse("\"optimizer.lr\" = [1e-3, 0.1]\nbatch_size = [10, 50, 500]\n").unwrap();
        assert_eq!(spec.mode, Mode::Grid);
        assert_eq!(spec.grid_size(), Some(6));
        let points = spec.points("lr-sweep");
        let names: Vec<&str> = points.iter().map(|p| p.run.as_str()).collect();
        assert_eq!(
            names,
            [
                "lr-sweep-lr-0.001-batch_size-10",
                "lr-sweep-lr-0.001-batch_size-50",
                "lr-sweep-lr-0.001-batch_size-500",
                "lr-sweep-lr-0.1-batch_size-10",
                "lr-sweep-lr-0.1-batch_size-50",
                "lr-sweep-lr-0.1-batch_size-500",
            ]
        );
        assert_eq!(
            points[4].values,
            [
                ("optimizer.lr".to_string(), Value::Float(0.1)),
                ("batch_size".to_string(), Value::Integer(50)),
            ]
        );
        // Unquoted dotted keys are the same key.
        let dotted = parse("optimizer.lr = [1e-3, 0.1]\nbatch_size = [10, 50, 500]\n").unwrap();
        assert_eq!(dotted.points("lr-sweep"), points);
    }

    #[test]
    fn random_draws_trials_distinct_points_by_the_seed() {
        let grid =
            "\"optimizer.lr\" = [1e-4, 1e-3, 1e-2, 0.1]\nbatch_size = [1, 10, 50, 500, 5000]\n";
        let draw = |extra: &str| {
            parse(&format!("{grid}mode = \"random\"\ntrials = 7\n{extra}"))
                .unwrap()
                .points("r")
        };
        let a = draw("seed = 1\n");
        assert_eq!(a.len(), 7);
        let mut names: Vec<&str> = a.iter().map(|p| p.run.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 7, "a point drawn twice: {names:?}");
        // Every point is one of the grid's, and the same seed draws the same points.
        let all = parse(grid).unwrap().points("r");
        assert!(a.iter().all(|p| all.contains(p)));
        assert_eq!(draw("seed = 1\n"), a);
        assert_ne!(draw("seed = 2\n"), a);
        // Without a seed of its own, the base config's (here none: the default) draws.
        assert_eq!(
            draw(""),
            draw(&format!("seed = {}\n", defaults::SEED)),
            "the default seed is not the run config's"
        );
        // All of the grid, drawn, is the grid.
        let whole = parse(&format!("{grid}mode = \"random\"\ntrials = 20\n")).unwrap();
        assert_eq!(whole.points("r"), all);
    }

    #[test]
    fn every_mistake_in_the_table_is_named_with_its_line_and_key() {
        // [sweep] is on line 11 of the file; its first key on line 12.
        for (sweep, why) in [
            (
                "batch_size = []\n",
                "line 12, [sweep] key `batch_size`: an empty list",
            ),
            (
                "batch_size = [10]\nmode = \"grids\"\n",
                "line 13, [sweep] key `mode`: mode = \"grids\": expected \"grid\"",
            ),
            (
                "batch_size = [10, 50]\nmode = \"random\"\ntrials = 3\n",
                "line 14, [sweep] key `trials`: trials = 3 is more than the grid's 2 points",
            ),
            (
                "batch_size = [10, 50]\nmode = \"random\"\n",
                "line 13, [sweep] key `mode`: mode = \"random\" needs trials",
            ),
            (
                "batch_size = [10, 50]\ntrials = 1\n",
                "line 13, [sweep] key `trials`: trials applies to mode = \"random\"",
            ),
            (
                "batch_size = [10, 50]\nmode = \"random\"\ntrials = 0\n",
                "line 14, [sweep] key `trials`: trials = 0",
            ),
            (
                "batch_size = [10, 50]\nepochs = 3\n",
                "line 13, [sweep] key `epochs`: epochs = 3 is neither a list",
            ),
            (
                "batch_size = [10, 50, 10]\n",
                "line 12, [sweep] key `batch_size`: the value 10 is listed twice",
            ),
            ("mode = \"grid\"\n", "[sweep] sweeps no key"),
            (
                "artifacts = [\"a\", \"b\"]\n",
                "line 12, [sweep] key `artifacts`",
            ),
        ] {
            let e = parse(sweep).unwrap_err();
            assert!(e.starts_with(why), "{sweep}: {e}");
        }
        let e = SweepSpec::parse(BASE).unwrap_err();
        assert!(e.starts_with("no [sweep] table"), "{e}");
    }

    #[test]
    fn the_base_text_keeps_every_line_but_the_tables() {
        let text = format!(
            "{BASE}\n[sweep] # the sweep\n\"optimizer.lr\" = [\n  1e-3,\n  0.1,\n]\nmode = \"grid\"\n"
        );
        let (_, base) = SweepSpec::parse(&text).unwrap();
        assert_eq!(base.lines().count(), text.lines().count());
        assert_eq!(base.trim_end(), BASE.trim_end());
        // A [sweep] table in the middle of the file: what follows it stays where it was.
        let middle = "batch_size = 50\n[sweep]\nepochs = [1, 2]\n[model]\nkind = \"linear\"\n";
        let (_, base) = SweepSpec::parse(middle).unwrap();
        assert_eq!(base.lines().nth(3), Some("[model]"));
        assert!(
            !base.contains("sweep") && !base.contains("epochs"),
            "{base}"
        );
    }
}
