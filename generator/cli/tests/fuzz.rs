//! A bounded fuzz run of the input readers (`.npy`, CSV matrices, lane-operand CSV)
//! and the config parser (YAML text and `--set` overrides), driven by proptest
//! strategies from a fixed seed (reproducible; no nightly toolchain). Each target
//! runs until its input budget or its time budget is spent, and counts its inputs:
//! no input may panic, and an accepted input must be self-consistent (values read
//! equal the shape's product; an accepted config round-trips through its YAML).
//!
//! `SMTGEN_FUZZ_SECS` sets the time budget per target (default 4 s) and
//! `SMTGEN_FUZZ_SEED` the seed.

mod common;
use common::files::npy_bytes as npy_file;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};
use smtgen_core::config::{Config, ConfigBuilder, PRESETS};
use smtgen_core::tensors::{self, NpyValues};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

const MAX_INPUTS: u64 = 200_000;

/// A scratch directory in memory when the machine has one (the readers take
/// paths; a disk write per input would make the run I/O-bound).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

fn seed() -> u64 {
    std::env::var("SMTGEN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f022)
}

fn budget() -> Duration {
    let secs = std::env::var("SMTGEN_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(4.0);
    Duration::from_secs_f64(secs)
}

/// Runs `check` on inputs drawn from `strategy` until a budget is spent; returns
/// the number of inputs. A panic fails the test with the input (Debug) and seed.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(&S::Value)) -> u64
where
    S::Value: std::fmt::Debug,
{
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(PtConfig::default(), rng);
    let t0 = Instant::now();
    let (limit, mut n) = (budget(), 0u64);
    while n < MAX_INPUTS && t0.elapsed() < limit {
        let value = strategy.new_tree(&mut runner).expect("strategy").current();
        if catch_unwind(AssertUnwindSafe(|| check(&value))).is_err() {
            panic!("fuzz {name}: input {n} panicked (seed {seed}): {value:?}");
        }
        n += 1;
    }
    println!(
        "fuzz {name}: {n} inputs in {:.1} s, 0 panics (seed {seed})",
        t0.elapsed().as_secs_f64()
    );
    assert!(n > 0);
    n
}

fn dim() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..5,
        1 => any::<u64>(),
        1 => Just(1u64 << 62),
        1 => Just(u64::MAX),
        1 => Just(1u64 << 32),
    ]
}

/// A `.npy` file: a well-formed header over any dtype and shape, any data, then an
/// optional truncation or byte flip; or bytes that are not a header at all.
fn npy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let descr = prop_oneof![
        Just("|u1".to_string()),
        Just("|i1".to_string()),
        Just("<i4".to_string()),
        Just("<i8".to_string()),
        Just("<f4".to_string()),
        Just("<f8".to_string()),
        Just(">f8".to_string()),
        Just("<u2".to_string()),
        "[a-z<>|0-9]{0,4}",
    ];
    let header = (
        descr,
        prop::collection::vec(dim(), 0..4),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..80),
        any::<u16>(),
        any::<u8>(),
        0u8..4,
    )
        .prop_map(|(d, shape, fortran, data, at, flip, mutate)| {
            let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
            let shape = match dims.len() {
                1 => format!("({},)", dims[0]),
                _ => format!("({})", dims.join(", ")),
            };
            let mut b = npy_file(&d, fortran, &shape, &data);
            let at = usize::from(at) % b.len();
            match mutate {
                0 => b.truncate(at),
                1 => b[at] ^= flip,
                _ => {}
            }
            b
        });
    prop_oneof![
        6 => header,
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn check_tensor(path: &Path) {
    let dtypes = ["|u1", "|i1", "<i4", "<i8", "<f4", "<f8"];
    if let Ok((shape, vals, _)) = tensors::read_tensor(path, &dtypes, "fuzz") {
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .expect("an accepted shape's product fits");
        let got = match vals {
            NpyValues::Int(v) => v.len(),
            NpyValues::Float(v) => v.len(),
        };
        assert_eq!(
            got, n,
            "values read must equal the shape's product {shape:?}"
        );
    }
    if let Ok((shape, v)) = tensors::read_float_tensor(path) {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        assert_eq!(Some(v.len()), n);
        assert!(v.iter().all(|x| x.is_finite()));
    }
    if let Ok(m) = tensors::read_activations(path) {
        assert_eq!(Some(m.data.len()), m.rows.checked_mul(m.cols));
    }
    if let Ok(m) = tensors::read_weights(path) {
        assert_eq!(Some(m.data.len()), m.rows.checked_mul(m.cols));
    }
}

/// Fuzzes the tensor readers on bytes from `strategy` written to a scratch file
/// `x.EXT`, then runs `more` on the same bytes.
fn fuzz_file<S: Strategy<Value = Vec<u8>>>(
    name: &str,
    ext: &str,
    strategy: S,
    more: impl Fn(&[u8]),
) {
    let d = scratch();
    let p = d.path().join(format!("x.{ext}"));
    fuzz(name, strategy, |b| {
        std::fs::write(&p, b).unwrap();
        check_tensor(&p);
        more(b);
    });
}

#[test]
fn fuzz_npy_reader() {
    fuzz_file("npy", "npy", npy_bytes(), |_| {});
}

/// CSV-like bytes: digits, signs, separators and every kind of line break, with
/// the odd arbitrary byte (non-UTF-8).
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => prop::sample::select(b"0123456789".to_vec()),
        3 => prop::sample::select(b",,,\n\r -+#e. \t".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..120)
}

#[test]
fn fuzz_csv_readers() {
    fuzz_file("csv", "csv", csv_bytes(), |b| {
        for lanes in [1, 2, 4] {
            if let Ok(ops) = smtgen_core::operands::parse_lane_csv_bytes(b, lanes, "fuzz") {
                let rows = smtgen_core::operands::text_lines(b, "fuzz").unwrap().len();
                assert!(ops.len() <= rows);
            }
        }
    });
}

fn yaml_text() -> impl Strategy<Value = String> {
    // Every key the parser knows (so a new one is fuzzed too), and some it does not.
    let mut keys: Vec<&str> = smtgen_core::config::config_keys().collect();
    keys.extend(["bogus", "- x", "? k"]);
    let key = prop::sample::select(keys);
    let value = prop::sample::select(vec![
        "",
        "sysmt",
        "sparq",
        "baseline",
        "ideal",
        "bsparq",
        "1",
        "2",
        "4",
        "0",
        "-1",
        "64",
        "129",
        "99999999999999999999",
        "2.5",
        "~",
        "null",
        "\"2\"",
        "[1, 2]",
        "{a: 1}",
        "&a x",
        "*a",
        "!!str 2",
        "4b5opt",
        "3b",
        "truncate",
        "nearest_even",
        "act",
        "edge",
        "in_pe",
        "true",
        "x_1",
        "|",
        ">",
    ]);
    let indent = prop::sample::select(vec!["", "  ", "    ", "\t", " "]);
    let line = (
        indent,
        key,
        prop::sample::select(vec![": ", ":", " : ", " "]),
        value,
    )
        .prop_map(|(i, k, s, v)| format!("{i}{k}{s}{v}"));
    prop_oneof![
        8 => prop::collection::vec(line, 0..10).prop_map(|l| l.join("\n")),
        1 => "\\PC{0,60}",
    ]
}

fn set_strings() -> impl Strategy<Value = Vec<String>> {
    let set = prop_oneof![
        4 => (
            prop::sample::select(vec![
                "pe.threads", "pe.policy", "pe.window", "pe.rounding", "pe.zero_test",
                "pe.acc_width", "pe.window_logic", "pe.pipeline", "array.rows", "array.cols",
                "name", "pe", "array", "pe.bogus", "", ".", "pe..threads",
            ]),
            prop::sample::select(vec![
                "", "2", "4", "~", "null", "sparq", "4b3opt", "truncate", "edge", "1", "0",
                "-5", "{}", "[]", "\"x\"", "a b", "=", "3e9",
            ]),
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
        1 => "\\PC{0,20}",
    ];
    prop::collection::vec(set, 0..4)
}

#[test]
fn fuzz_config_parser() {
    let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
    let preset = prop::option::of(prop::sample::select(names));
    fuzz(
        "config",
        (yaml_text(), preset, set_strings()),
        |(text, preset, sets)| {
            for c in [
                Config::from_yaml(text).ok(),
                ConfigBuilder::new().preset(*preset).sets(sets).build().ok(),
            ]
            .into_iter()
            .flatten()
            {
                // An accepted config is what its canonical YAML says.
                assert_eq!(Config::from_yaml(&c.to_yaml()).as_ref(), Ok(&c));
            }
        },
    );
}

/// Text built to hit the second round's cases: deep nesting (flow and block),
/// control and invisible characters, huge numbers.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        (1usize..5000).prop_map(|d| "[".repeat(d) + &"]".repeat(d)),
        (1usize..500).prop_map(|d| "{a: ".repeat(d) + "1" + &"}".repeat(d)),
        (1usize..200).prop_map(|d| "- ".repeat(d) + "x"),
        (1usize..40).prop_map(|d| (0..d)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i * 2)))
            .collect::<String>()),
        "[\\x00-\\x1f\\x7f\u{feff}\u{202e}]{1,20}".prop_map(|s| s),
        "[0-9]{19,400}".prop_map(|s| s),
        "-[0-9]{19,40}".prop_map(|s| s),
        Just("pe:\n  policy: sysmt\n  threads: ".to_string()),
    ];
    prop::collection::vec(piece, 1..4).prop_map(|v| v.concat())
}

/// A rejected input's message: one line, no raw control character, bounded.
fn message_is_clean(e: &smtgen_core::Error) {
    let m = e.to_string();
    if matches!(
        e,
        smtgen_core::Error::Config { .. } | smtgen_core::Error::Input { .. }
    ) {
        assert!(!m.contains('\n'), "multi-line message: {m:?}");
        assert!(
            !m.chars()
                .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{202e}'),
            "raw control character in: {m:?}"
        );
        assert!(m.len() < 2000, "{} bytes: {}", m.len(), &m[..200]);
    }
}

#[test]
fn fuzz_hostile_config_text() {
    fuzz(
        "hostile config",
        (hostile_text(), hostile_text()),
        |(text, set)| {
            let t0 = Instant::now();
            if let Err(e) = Config::from_yaml(text) {
                message_is_clean(&e);
            }
            for s in [
                format!("pe.threads={set}"),
                format!("{set}=1"),
                format!("pe.policy={set}"),
            ] {
                if let Err(e) = ConfigBuilder::new().sets(&[s]).build() {
                    message_is_clean(&e);
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(2), "slow input");
        },
    );
}

#[test]
fn fuzz_extension_case_and_headers() {
    let dir = scratch();
    let ext = prop::sample::select(vec!["npy", "NPY", "Npy", "nPy", "csv", "CSV", "txt", ""]);
    fuzz("extension case", (ext, npy_bytes()), |(ext, bytes)| {
        let p = dir.path().join(format!("x.{ext}"));
        std::fs::write(&p, bytes).unwrap();
        let r = tensors::read_activations(&p);
        if let Err(e) = &r {
            message_is_clean(e);
        }
        // Any case of .npy is read as .npy: never "not UTF-8" from the CSV reader.
        if ext.eq_ignore_ascii_case("npy") {
            if let Err(e) = r {
                assert!(!e.to_string().contains("UTF-8"), "{e}");
            }
        }
    });
}
