//! The one runner for every external tool smtgen starts: Yosys (synthesis, proof
//! miters, counterexamples, library mapping), ABC (`yosys-abc`, deciding proofs),
//! Verilator (lint, model build and the built model binary), Icarus (`iverilog`,
//! `vvp`) and OpenSTA (`sta`).
//!
//! A [`Tool`] owns one invocation: its work directory, its command line, an
//! optional timeout and the log file that captures everything the tool prints
//! (stdout and stderr, interleaved). On expiry of the timeout the tool's whole
//! process group is killed (a Verilator build's `make` and compilers with it) and the
//! run is reported as timed out. A failure becomes an [`Error::Tool`] naming the tool,
//! the command, the work directory, the log file and the log's last lines.
//!
//! [`jobs`] is the one place that turns a `--jobs N` flag into a worker count: N, or
//! with 0 every core [`std::thread::available_parallelism`] reports.

use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines of the log an error shows.
pub const TAIL_LINES: usize = 30;

/// The number of parallel workers for a `--jobs` value: `jobs` itself, or every
/// available core when it is 0 (at least 1), never above the declared ceiling
/// [`crate::guard::max_jobs`] (the CLI and Python reject more up front).
pub fn jobs(jobs: usize) -> usize {
    crate::guard::threads_for(jobs, usize::MAX)
}

/// The workers [`parallel_map`] starts for `items` items: [`jobs`]`(jobs)`, at most
/// one per item, at least one.
pub fn workers(jobs: usize, items: usize) -> usize {
    crate::guard::threads_for(jobs, items)
}

/// How reports say where a run of `items` parallel items ran: `on 3 cores` (the
/// workers [`parallel_map`] used; `on 1 core`).
pub fn cores_note(jobs: usize, items: usize) -> String {
    match workers(jobs, items) {
        1 => "on 1 core".to_string(),
        n => format!("on {n} cores"),
    }
}

/// `f` over `items` on [`workers`]`(jobs, items.len())` threads, results in `items`' order.
/// Workers take the next item as they finish one, so long and short runs mix.
pub fn parallel_map<T: Sync, R: Send>(
    jobs: usize,
    items: &[T],
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    let workers = workers(jobs, items.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(i, item);
                done.lock().unwrap_or_else(|p| p.into_inner()).push((i, r));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Runs `program flag` (a version query: quick, no work directory, no log) and
/// returns what it printed. The one exception to running tools through [`Tool`].
pub fn probe(program: &str, flag: &str) -> std::io::Result<std::process::Output> {
    Command::new(program)
        .arg(flag)
        .stdin(Stdio::null())
        .output()
}

/// True when `program` can be started (`--version` or `-V` answers).
pub fn available(program: &str) -> bool {
    ["--version", "-V"].iter().any(|flag| {
        probe(program, flag)
            .map(|o| o.status.success() || !o.stdout.is_empty())
            .unwrap_or(false)
    })
}

/// The first line `program flag` prints (a version string), or an error saying the
/// tool cannot be started.
pub fn version(program: &str, flag: &str) -> Result<String> {
    let out = probe(program, flag)
        .map_err(|e| cannot_start(program, &format!("{program} {flag}"), &e))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

fn cannot_start(name: &str, shown: &str, e: &std::io::Error) -> Error {
    Error::tool(
        name,
        format!(
            "cannot start `{shown}`: {e} (is it installed? scripts/install-tools.sh installs it)"
        ),
    )
}

static NEXT_LOG: AtomicU64 = AtomicU64::new(1);

/// One invocation of an external tool (see the module documentation).
pub struct Tool {
    name: String,
    cmd: Command,
    shown: String,
    dir: PathBuf,
    log: Option<String>,
    timeout: Option<Duration>,
}

impl Tool {
    /// `program` run in the work directory `dir`; `name` is what errors call it
    /// (`yosys`, `verilator`, `verilator model`, ...).
    pub fn new(name: &str, program: impl AsRef<OsStr>, dir: &Path) -> Tool {
        let program = program.as_ref();
        let mut cmd = Command::new(program);
        cmd.current_dir(dir).stdin(Stdio::null());
        Tool {
            name: name.to_string(),
            cmd,
            shown: quote(program),
            dir: dir.to_path_buf(),
            log: None,
            timeout: None,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Tool {
        self.shown.push(' ');
        self.shown.push_str(&quote(a.as_ref()));
        self.cmd.arg(a);
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Tool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// Sets an environment variable for the tool.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Tool {
        self.cmd.env(key, value);
        self
    }

    /// Names the log file (inside the work directory); default `<name>.<n>.log`
    /// with a number unique in this process, so parallel runs never share one.
    pub fn log(mut self, file: &str) -> Tool {
        self.log = Some(file.to_string());
        self
    }

    /// Kills the tool's process group after `t` (no limit by default).
    pub fn timeout(mut self, t: Duration) -> Tool {
        self.timeout = Some(t);
        self
    }

    /// The command line as shown in errors.
    pub fn command_line(&self) -> &str {
        &self.shown
    }

    /// Runs the tool and waits for it. Errors only when it cannot be started or its
    /// log cannot be written; the exit status and a timeout are in the [`Output`]
    /// for the caller to judge ([`Output::check`] turns them into errors).
    pub fn execute(mut self) -> Result<Output> {
        let log_name = self.log.take().unwrap_or_else(|| {
            let n = NEXT_LOG.fetch_add(1, Ordering::Relaxed);
            format!("{}.{n}.log", self.name.replace(' ', "_"))
        });
        let log = self.dir.join(log_name);
        let file = std::fs::File::create(&log).map_err(|e| Error::io(&log, e))?;
        let err = file.try_clone().map_err(|e| Error::io(&log, e))?;
        self.cmd.stdout(file).stderr(err);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so that a timeout kills everything it started.
            // That group no longer gets the terminal's Ctrl-C: smtgen's interrupt
            // handler stops its descendants (guard), and on Linux the tool is also
            // told to stop if smtgen dies without running it (a library caller,
            // a test binary killed).
            self.cmd.process_group(0);
            #[cfg(target_os = "linux")]
            // SAFETY: the closure runs in the forked child before exec and calls
            // only prctl(2), which is async-signal-safe.
            unsafe {
                self.cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
        }
        let t0 = Instant::now();
        let mut child = self
            .cmd
            .spawn()
            .map_err(|e| cannot_start(&self.name, &self.shown, &e))?;
        // Drop our copies of the log handles: the child holds its own.
        drop(self.cmd);
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => {}
                Err(e) => {
                    return Err(Error::tool(
                        &self.name,
                        format!("waiting for `{}`: {e}", self.shown),
                    ))
                }
            }
            if self.timeout.is_some_and(|t| t0.elapsed() >= t) {
                timed_out = true;
                kill_group(&mut child);
                break child.wait().map_err(|e| {
                    Error::tool(&self.name, format!("waiting for `{}`: {e}", self.shown))
                })?;
            }
            // Short sleeps first (most runs are quick), then at most 50 ms.
            let e = t0.elapsed().as_millis() as u64;
            std::thread::sleep(Duration::from_millis((e / 20).clamp(1, 50)));
        };
        Ok(Output {
            name: self.name,
            shown: self.shown,
            dir: self.dir,
            log,
            status,
            timed_out,
            limit: self.timeout,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// Runs the tool and requires it to finish in time with exit status 0.
    pub fn run(self) -> Result<Output> {
        self.execute()?.check()
    }
}

#[cfg(unix)]
fn kill_group(child: &mut std::process::Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on the process group this runner created for its own child
    // (process_group(0) makes the child's pid its group id).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = child.kill();
}

#[cfg(not(unix))]
fn kill_group(child: &mut std::process::Child) {
    let _ = child.kill();
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=+:,@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What one finished (or killed) tool run left behind.
#[derive(Debug, Clone)]
pub struct Output {
    name: String,
    shown: String,
    dir: PathBuf,
    /// The log file holding everything the tool printed.
    pub log: PathBuf,
    /// The exit status.
    pub status: ExitStatus,
    /// True when the timeout expired and the process group was killed.
    pub timed_out: bool,
    limit: Option<Duration>,
    /// Wall-clock seconds the run took.
    pub seconds: f64,
}

impl Output {
    /// True when the tool finished in time with exit status 0.
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.success()
    }

    /// The whole log (lossily decoded).
    pub fn text(&self) -> Result<String> {
        let b = std::fs::read(&self.log).map_err(|e| Error::io(&self.log, e))?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// The last `n` lines of the log.
    pub fn tail(&self, n: usize) -> String {
        let text = self.text().unwrap_or_default();
        let v: Vec<&str> = text.lines().collect();
        v[v.len().saturating_sub(n)..].join("\n")
    }

    /// The error for this run ending as it did (`what` says what was being done,
    /// e.g. "synthesis of x_pe"): names the tool, the command, the work directory,
    /// why it ended and the log's last lines.
    pub fn error(&self, what: &str) -> Error {
        let why = if self.timed_out {
            let t = self.limit.unwrap_or_default();
            let secs = if t.subsec_nanos() == 0 {
                t.as_secs().to_string()
            } else {
                format!("{:.1}", t.as_secs_f64())
            };
            format!("timed out after {secs} s and was killed with its process group")
        } else {
            format!("failed ({})", self.status)
        };
        let what = if what.is_empty() {
            String::new()
        } else {
            format!("{what}: ")
        };
        Error::tool(
            &self.name,
            format!(
                "{what}`{}` (in {}) {why}; last lines of {}:\n{}",
                self.shown,
                self.dir.display(),
                self.log.display(),
                self.tail(TAIL_LINES)
            ),
        )
    }

    /// `Ok(self)` when the run succeeded, else [`Output::error`].
    pub fn check(self) -> Result<Output> {
        if self.success() {
            Ok(self)
        } else {
            Err(self.error(""))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_zero_is_every_core_and_n_is_n() {
        assert!(jobs(0) >= 1);
        assert_eq!(
            jobs(0),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        assert_eq!(jobs(3), 3);
    }

    #[test]
    fn parallel_map_keeps_the_order_whatever_the_workers() {
        let items: Vec<u64> = (0..37).collect();
        let want: Vec<u64> = items.iter().map(|x| x * x).collect();
        for jobs in [0, 1, 2, 5, 100] {
            assert_eq!(
                parallel_map(jobs, &items, |_, x| x * x),
                want,
                "jobs {jobs}"
            );
        }
        assert!(parallel_map(3, &[] as &[u8], |_, x| *x).is_empty());
    }

    #[test]
    fn a_failing_tool_names_itself_the_command_and_the_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let script = "for i in $(seq 1 100); do echo line$i; done; echo oops >&2; exit 3";
        let e = Tool::new("shell", "sh", dir.path())
            .args(["-c", script])
            .log("sh.log")
            .run()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("shell: `sh -c "), "{e}");
        assert!(e.contains("failed (exit status: 3)"), "{e}");
        assert!(e.contains("sh.log"), "{e}");
        // The tail, not the head: the last lines and stderr, not line 1.
        assert!(e.contains("line100\noops"), "{e}");
        assert!(!e.contains("line1\n"), "{e}");
        // TAIL_LINES (30) lines: line72 to line100 and the stderr line.
        assert!(!e.contains("line71\n"), "{e}");
        assert!(e.contains("\nline72\n"), "{e}");
        // The log file keeps everything.
        let log = std::fs::read_to_string(dir.path().join("sh.log")).unwrap();
        assert!(
            log.starts_with("line1\n") && log.ends_with("oops\n"),
            "{log}"
        );
    }

    #[test]
    fn a_tool_that_cannot_start_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let e = Tool::new("nosuch", "smtgen-no-such-tool", dir.path())
            .run()
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot start `smtgen-no-such-tool`"), "{e}");
    }

    #[test]
    fn a_timeout_kills_the_process_group_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        // A child of the shell that would outlive a kill of the shell alone writes
        // its pid; after the timeout it must be gone too.
        let t0 = Instant::now();
        let out = Tool::new("sleeper", "sh", dir.path())
            .args(["-c", "echo started; sleep 30 & echo $! > kid; wait"])
            .timeout(Duration::from_millis(500))
            .execute()
            .unwrap();
        assert!(out.timed_out);
        assert!(!out.success());
        assert!(t0.elapsed() < Duration::from_secs(20), "not killed in time");
        let e = out.error("a test").to_string();
        assert!(e.starts_with("sleeper: a test: `sh -c "), "{e}");
        assert!(e.contains("timed out after 0.5 s and was killed"), "{e}");
        assert!(e.contains("started"), "{e}");
        #[cfg(target_os = "linux")]
        {
            let kid = std::fs::read_to_string(dir.path().join("kid")).unwrap();
            let kid = kid.trim();
            // Give the kernel a moment to reap it (it is reparented to init).
            let mut gone = false;
            for _ in 0..100 {
                let stat = std::fs::read_to_string(format!("/proc/{kid}/stat")).unwrap_or_default();
                // Gone, or a zombie awaiting its new parent's wait.
                if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
                    gone = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(gone, "the tool's child {kid} survived the timeout");
        }
    }

    #[test]
    fn a_tool_that_finishes_in_time_is_not_killed() {
        let dir = tempfile::tempdir().unwrap();
        let out = Tool::new("echo", "sh", dir.path())
            .args(["-c", "echo hello"])
            .timeout(Duration::from_secs(60))
            .run()
            .unwrap();
        assert!(!out.timed_out);
        assert_eq!(out.text().unwrap(), "hello\n");
    }

    #[test]
    fn odd_arguments_are_quoted_in_the_command_line() {
        let t = Tool::new("x", "prog", Path::new(".")).args(["a b", "c", "it's"]);
        assert_eq!(t.command_line(), r"prog 'a b' c 'it'\''s'");
    }
}
