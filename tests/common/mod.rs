//! Helpers shared by the integration tests.
//!
//! - Broker addresses: [`bootstrap`] (single broker) and [`cluster_bootstrap`] (3 nodes),
//!   from the variables `tests/run` exports. A missing variable is a loud failure.
//! - [`unique_name`] for topics and groups, so tests run in parallel.
//! - Peer clients as child processes: kafka-python (from the virtualenv that
//!   `tests/kafka/broker install` makes) and kcat.
//! - [`broker_ctl`] runs `tests/kafka/broker` for fault tests (`kill 2`, `restart 2`);
//!   [`NodeDown`] restarts a killed node even when the test fails.
//! - [`wait_for`]: poll a condition until a deadline instead of sleeping.
//!
//! Every child process runs under a timeout and is killed when it runs over, so a test
//! never hangs on a peer; a long-running one ([`Background`], a group member) is killed
//! when the test drops it, also on a panic.
#![allow(dead_code)]

// The fake broker, the fault proxy and hand-made records are built from the crate's
// wire types, public only with the `protocol` feature.
#[cfg(feature = "protocol")]
pub mod fake_broker;
pub mod fault_checks;
pub mod fault_clients;
#[cfg(feature = "protocol")]
pub mod fault_proxy;
#[cfg(feature = "protocol")]
pub mod hostile_records;
#[cfg(feature = "protocol")]
pub mod kafka_frames;
#[cfg(feature = "protocol")]
pub mod proxy_connection;
pub mod secured;
pub mod topics;

use std::env;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a kafka-python script may run.
pub const PYTHON_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a kcat call may run.
pub const KCAT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a `tests/kafka/broker` call may run (a restart waits up to 60 s).
pub const BROKER_CTL_TIMEOUT: Duration = Duration::from_secs(150);

// ------------------------------------------------------------------ brokers

fn required_env(var: &str, what: &str) -> String {
    match env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{var} is not set: the integration tests need the {what}. Run them with \
             `tests/run` (it installs and starts the brokers), or start one yourself with \
             `tests/kafka/broker install && tests/kafka/broker start{} --secure` and export \
             the lines it prints.",
            if var.starts_with("KAFKA_CLUSTER_") {
                " --nodes 3"
            } else {
                ""
            }
        ),
    }
}

/// Bootstrap servers of the single test broker (`KAFKA_BOOTSTRAP_SERVERS`).
///
/// Panics with instructions when the variable is unset: tests never skip silently.
pub fn bootstrap() -> String {
    required_env("KAFKA_BOOTSTRAP_SERVERS", "single test broker")
}

/// Bootstrap servers of the 3-node test cluster (`KAFKA_CLUSTER_BOOTSTRAP_SERVERS`).
pub fn cluster_bootstrap() -> String {
    required_env("KAFKA_CLUSTER_BOOTSTRAP_SERVERS", "3-node test cluster")
}

/// Bootstrap servers of one of the single broker's secured listeners, by the listener's
/// name in `tests/kafka/broker start --secure`: `SSL`, `MTLS`, `SASL_PLAINTEXT`,
/// `SASL_SSL`, `WRONG_HOST_SSL`, `EXPIRED_SSL` or `REAUTH` (`KAFKA_<NAME>_BOOTSTRAP_SERVERS`).
pub fn secure_bootstrap(listener: &str) -> String {
    required_env(
        &format!("KAFKA_{listener}_BOOTSTRAP_SERVERS"),
        &format!("single test broker's {listener} listener"),
    )
}

/// The directory of the test certificates (`KAFKA_SYNC_CERTS`): `ca.pem`, `client.pem`,
/// `client.key`, `client-encrypted.key`, `other-ca.pem` (see tests/kafka/certs).
pub fn certs_dir() -> PathBuf {
    PathBuf::from(required_env("KAFKA_SYNC_CERTS", "test certificates"))
}

/// A topic or group name no other test (or earlier run) uses:
/// `prefix-<pid>-<counter>-<nanos>`, within Kafka's legal characters.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{prefix}-{}-{n}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// Serialises the tests that stop or kill cluster nodes within one test binary. Hold the
/// guard for the whole test; tests that need every node up may take it too.
pub fn cluster_fault_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The repository root (where `Cargo.toml` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/kafka/broker ARGS` for the 3-node cluster (`KAFKA_SYNC_CLUSTER=cluster`;
/// `--nodes 1` in ARGS picks the single broker instead) and returns its stdout.
/// Panics if it fails or runs over [`BROKER_CTL_TIMEOUT`].
///
/// ```ignore
/// broker_ctl(&["kill", "2"]);
/// broker_ctl(&["restart", "2"]);
/// ```
pub fn broker_ctl(args: &[&str]) -> String {
    match try_broker_ctl(args) {
        Ok(out) => out,
        Err(e) => panic!("{e}"),
    }
}

/// [`broker_ctl`] that returns the failure instead of panicking.
pub fn try_broker_ctl(args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(repo_root().join("tests/kafka/broker"));
    cmd.args(args).env("KAFKA_SYNC_CLUSTER", "cluster");
    // Own process group, so a timeout kills the script and everything it started
    // (brokers it launches detach into their own sessions and are not affected).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let out = run(cmd, None, BROKER_CTL_TIMEOUT, true)?;
    out.ok(&format!("tests/kafka/broker {}", args.join(" ")))
}

/// Restarts a killed cluster node when dropped, so the next tests find the cluster whole
/// even when this one fails half-way. `restart` restarts it at once (and checks that it
/// came back).
///
/// ```ignore
/// let down = NodeDown::kill("2");   // tests/kafka/broker kill 2
/// // ... the node is down ...
/// down.restart();                   // tests/kafka/broker restart 2
/// ```
pub struct NodeDown(Option<String>);

impl NodeDown {
    /// `kill -9` cluster node `node` (`tests/kafka/broker kill NODE`).
    pub fn kill(node: &str) -> NodeDown {
        broker_ctl(&["kill", node]);
        NodeDown(Some(node.to_string()))
    }

    /// Starts the node again and waits until it answers; panics if it does not.
    pub fn restart(mut self) {
        if let Some(node) = self.0.take() {
            broker_ctl(&["restart", &node]);
        }
    }
}

impl Drop for NodeDown {
    fn drop(&mut self) {
        if let Some(node) = self.0.take() {
            let _ = try_broker_ctl(&["restart", &node]);
        }
    }
}

// ------------------------------------------------------------------ waiting

/// Calls `f` every 100 ms until it returns `Some`, and returns that value; panics naming
/// `what` once `timeout` has passed. For conditions that take a while on a busy machine:
/// a bounded wait, never a fixed sleep.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

// ------------------------------------------------------------------ child processes

/// A long-running child process (a group member of another client, or this test binary
/// run as a member process) whose stdout lines are collected as they come. Dropping it
/// kills it with SIGKILL and reaps it, so a failing test leaves no process behind.
pub struct Background {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Background {
    /// Starts `cmd` with its stdout and stderr piped; panics if it cannot start.
    pub fn spawn(mut cmd: Command) -> Background {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        let stdout = collect_lines(child.stdout.take().expect("stdout is piped"));
        let stderr = collect_lines(child.stderr.take().expect("stderr is piped"));
        Background {
            child,
            stdout,
            stderr,
        }
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The last stderr lines, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// True once the process has exited by itself (it is then reaped).
    #[allow(dead_code)] // not every test file waits for a child to finish
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// `kill -9` by PID, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

fn collect_lines(pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(|l| l.ok()) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// What a finished child printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// stdout as text if the child exited 0, else an error carrying its stderr.
    pub fn ok(self, what: &str) -> Result<String, String> {
        if self.status.success() {
            Ok(String::from_utf8_lossy(&self.stdout).into_owned())
        } else {
            Err(format!(
                "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
                self.status,
                String::from_utf8_lossy(&self.stdout),
                self.stderr
            ))
        }
    }
}

fn kill_child(child: &mut Child, group: bool) {
    if group {
        // The child leads its own process group: kill all of it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `cmd` with `stdin` as its input, collecting stdout and stderr. Kills it (its
/// process group too when `group`, which needs `process_group(0)` on `cmd`) once
/// `timeout` passes and returns an error saying so.
pub fn run(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
    group: bool,
) -> Result<Output, String> {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {what}: {e}"))?;
    let writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(thread::spawn(move || {
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_child(&mut child, group);
                let stdout = out_reader.join().unwrap_or_default();
                let stderr = err_reader.join().unwrap_or_default();
                return Err(format!(
                    "{what} did not finish within {timeout:?} and was killed\n--- stdout\n{}\n--- stderr\n{}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                kill_child(&mut child, group);
                return Err(format!("waiting for {what}: {e}"));
            }
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Retries `f` every `interval` until it returns `Ok` or `timeout` passes, then panics
/// with the last error.
pub fn retry<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => {
                panic!("{what}: still failing after {timeout:?}: {e}")
            }
            Err(_) => thread::sleep(interval),
        }
    }
}

// ------------------------------------------------------------------ kafka-python

/// The kafka-python virtualenv's interpreter: `KAFKA_SYNC_PYTHON`, else
/// `$KAFKA_SYNC_CACHE/venv/bin/python`, else `~/.cache/kafka-sync/venv/bin/python`.
pub fn python_path() -> PathBuf {
    if let Ok(p) = env::var("KAFKA_SYNC_PYTHON") {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let cache = match env::var("KAFKA_SYNC_CACHE") {
        Ok(c) if !c.is_empty() => PathBuf::from(c),
        _ => PathBuf::from(env::var("HOME").unwrap_or_else(|_| "/root".into()))
            .join(".cache/kafka-sync"),
    };
    let p = cache.join("venv/bin/python");
    assert!(
        p.exists(),
        "kafka-python is not installed at {}: run `tests/kafka/broker install` (tests/run does)",
        p.display()
    );
    p
}

fn py_dir() -> PathBuf {
    repo_root().join("tests/kafka/py")
}

/// Runs an inline Python script (`python -c SCRIPT ARGS`) with kafka-python importable;
/// `peer` (tests/kafka/py/peer.py) is importable too. Returns its stdout; panics if it
/// fails or runs over [`PYTHON_TIMEOUT`].
pub fn python(script: &str, args: &[&str]) -> String {
    try_python(script, args, None).unwrap_or_else(|e| panic!("{e}"))
}

/// [`python`] with stdin, returning the failure instead of panicking.
pub fn try_python(script: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
    let mut cmd = Command::new(python_path());
    cmd.arg("-c")
        .arg(script)
        .args(args)
        .env("PYTHONPATH", py_dir())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run(cmd, stdin, PYTHON_TIMEOUT, false)?.ok("python -c <script>")
}

/// Runs `tests/kafka/py/NAME` with ARGS and stdin; returns its stdout or the failure.
pub fn try_python_file(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
    let mut cmd = Command::new(python_path());
    cmd.arg(py_dir().join(name))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run(cmd, stdin, PYTHON_TIMEOUT, false)?.ok(&format!("{name} {}", args.join(" ")))
}

/// A record to produce through a peer client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rec {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// `None`: the producer's partitioner picks.
    pub partition: Option<i32>,
}

impl Rec {
    /// A record with a null key, a null value and no headers.
    pub fn new() -> Rec {
        Rec::default()
    }
    pub fn key(mut self, key: impl AsRef<[u8]>) -> Rec {
        self.key = Some(key.as_ref().to_vec());
        self
    }
    pub fn value(mut self, value: impl AsRef<[u8]>) -> Rec {
        self.value = Some(value.as_ref().to_vec());
        self
    }
    pub fn header(mut self, key: &str, value: impl AsRef<[u8]>) -> Rec {
        self.headers
            .push((key.to_string(), value.as_ref().to_vec()));
        self
    }
    pub fn partition(mut self, partition: i32) -> Rec {
        self.partition = Some(partition);
        self
    }
}

/// A record as a peer client read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRecord {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Header values read by kcat are never `None` (kcat prints null as empty).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex length: {s}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex {s}: {e}")))
        .collect()
}

/// The bytes token of tests/kafka/py/peer.py: "-" null, "x<hex>" bytes.
fn enc_bytes(b: Option<&[u8]>) -> String {
    match b {
        None => "-".into(),
        Some(b) => format!("x{}", hex(b)),
    }
}

fn dec_bytes(s: &str) -> Result<Option<Vec<u8>>, String> {
    match s {
        "-" => Ok(None),
        _ => match s.strip_prefix('x') {
            Some(h) => unhex(h).map(Some),
            None => Err(format!("bad bytes token {s}")),
        },
    }
}

fn enc_rec(r: &Rec) -> String {
    let headers = if r.headers.is_empty() {
        "-".to_string()
    } else {
        r.headers
            .iter()
            .map(|(k, v)| format!("{}:{}", hex(k.as_bytes()), enc_bytes(Some(v))))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{} {} {} {}\n",
        r.partition.map_or("-".to_string(), |p| p.to_string()),
        enc_bytes(r.key.as_deref()),
        enc_bytes(r.value.as_deref()),
        headers
    )
}

fn parse_peer_line(line: &str) -> Result<PeerRecord, String> {
    let f: Vec<&str> = line.split(' ').collect();
    if f.len() != 6 {
        return Err(format!("bad record line: {line}"));
    }
    let num = |s: &str| {
        s.parse::<i64>()
            .map_err(|e| format!("bad number {s} in {line}: {e}"))
    };
    let mut headers = Vec::new();
    if f[5] != "-" {
        for h in f[5].split(',') {
            let (k, v) = h.split_once(':').ok_or_else(|| format!("bad header {h}"))?;
            let k = String::from_utf8(unhex(k)?).map_err(|e| e.to_string())?;
            headers.push((k, dec_bytes(v)?));
        }
    }
    Ok(PeerRecord {
        partition: num(f[0])? as i32,
        offset: num(f[1])?,
        timestamp: num(f[2])?,
        key: dec_bytes(f[3])?,
        value: dec_bytes(f[4])?,
        headers,
    })
}

/// Produces `records` to `topic` with one kafka-python producer (acks=all) and waits for
/// every delivery. `compression`: None, "gzip", "snappy", "lz4" or "zstd". Returns the
/// (partition, offset) of each record, in order.
pub fn kafka_python_produce(
    bootstrap: &str,
    topic: &str,
    records: &[Rec],
    compression: Option<&str>,
) -> Vec<(i32, i64)> {
    let mut cfg = Vec::new();
    if let Some(c) = compression {
        cfg.push(("compression_type", c));
    }
    try_kafka_python_produce(bootstrap, topic, records, &cfg).unwrap_or_else(|e| panic!("{e}"))
}

/// [`kafka_python_produce`] with any KafkaProducer settings (values are Python literals
/// or plain strings, e.g. `("linger_ms", "5")`, `("acks", "1")`); returns the failure.
pub fn try_kafka_python_produce(
    bootstrap: &str,
    topic: &str,
    records: &[Rec],
    config: &[(&str, &str)],
) -> Result<Vec<(i32, i64)>, String> {
    let input: String = records.iter().map(enc_rec).collect();
    let mut args = vec![bootstrap.to_string(), topic.to_string()];
    args.extend(config.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = try_python_file("produce.py", &args, Some(input.as_bytes()))?;
    out.lines()
        .map(|l| {
            let (p, o) = l
                .split_once(' ')
                .ok_or_else(|| format!("bad produce output: {l}"))?;
            Ok((
                p.parse().map_err(|_| format!("bad partition {p}"))?,
                o.parse().map_err(|_| format!("bad offset {o}"))?,
            ))
        })
        .collect()
}

/// Reads `count` records from the beginning of `topic` (all partitions) with kafka-python.
/// `config` adds KafkaConsumer settings, e.g. `("group_id", "g")` to consume as a group.
pub fn try_kafka_python_consume(
    bootstrap: &str,
    topic: &str,
    count: usize,
    config: &[(&str, &str)],
) -> Result<Vec<PeerRecord>, String> {
    let count_s = count.to_string();
    let mut args = vec![bootstrap.to_string(), topic.to_string(), count_s];
    args.extend(config.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = try_python_file("consume.py", &args, None)?;
    out.lines().map(parse_peer_line).collect()
}

/// [`try_kafka_python_consume`] that panics on failure.
pub fn kafka_python_consume(bootstrap: &str, topic: &str, count: usize) -> Vec<PeerRecord> {
    try_kafka_python_consume(bootstrap, topic, count, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Creates `name` and waits until every partition has a leader. `configs` are topic
/// configs such as `("min.insync.replicas", "2")`.
pub fn kafka_python_create_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    replication_factor: i16,
) {
    try_kafka_python_create_topic(bootstrap, name, partitions, replication_factor, &[])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`kafka_python_create_topic`] with topic configs, returning the failure.
pub fn try_kafka_python_create_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(&str, &str)],
) -> Result<(), String> {
    let (p, rf) = (partitions.to_string(), replication_factor.to_string());
    let mut args = vec![
        bootstrap.to_string(),
        "create-topic".into(),
        name.to_string(),
        p,
        rf,
    ];
    args.extend(configs.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    try_python_file("admin.py", &args, None).map(|_| ())
}

/// Asks the controller (through kafka-python's `elect_leaders`) to make each partition
/// of `topic` led by its preferred replica again, as after a broker restart. Partitions
/// already led by it are fine; other failures are returned.
pub fn kafka_python_elect_preferred_leaders(bootstrap: &str, topic: &str) -> Result<(), String> {
    const SCRIPT: &str = r#"
import sys
from kafka.admin import KafkaAdminClient
from kafka.errors import ElectionNotNeededError
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1].split(","), request_timeout_ms=20000)
try:
    admin.elect_leaders(0, [sys.argv[2]], timeout_ms=20000)
except ElectionNotNeededError:
    pass
"#;
    try_python(SCRIPT, &[bootstrap, topic], None).map(|_| ())
}

/// A broker as the cluster metadata lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

/// The cluster as kafka-python's `KafkaAdminClient.describe_cluster()` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub cluster_id: String,
    pub controller_id: i32,
    /// Sorted by id.
    pub brokers: Vec<BrokerInfo>,
}

/// Describes the cluster through kafka-python's admin client; panics on failure.
pub fn kafka_python_describe_cluster(bootstrap: &str) -> ClusterInfo {
    try_kafka_python_describe_cluster(bootstrap).unwrap_or_else(|e| panic!("{e}"))
}

/// [`kafka_python_describe_cluster`] returning the failure.
pub fn try_kafka_python_describe_cluster(bootstrap: &str) -> Result<ClusterInfo, String> {
    let out = try_python_file("admin.py", &[bootstrap, "describe-cluster"], None)?;
    let mut info = ClusterInfo {
        cluster_id: String::new(),
        controller_id: -1,
        brokers: Vec::new(),
    };
    for line in out.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let bad = || format!("bad describe-cluster line: {line}");
        match f.as_slice() {
            ["cluster_id", id] => info.cluster_id = id.to_string(),
            ["controller", id] => info.controller_id = id.parse().map_err(|_| bad())?,
            ["broker", id, host, port] => info.brokers.push(BrokerInfo {
                id: id.parse().map_err(|_| bad())?,
                host: host.to_string(),
                port: port.parse().map_err(|_| bad())?,
            }),
            _ => return Err(bad()),
        }
    }
    Ok(info)
}

/// One partition of a topic as the metadata describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    /// -1 while the partition has no leader.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// Describes `topic`'s partitions through kafka-python's admin client.
pub fn try_kafka_python_describe_topic(
    bootstrap: &str,
    topic: &str,
) -> Result<Vec<PartitionInfo>, String> {
    let out = try_python_file("admin.py", &[bootstrap, "describe-topic", topic], None)?;
    let ids = |s: &str| -> Result<Vec<i32>, String> {
        if s == "-" {
            return Ok(Vec::new());
        }
        s.split(',')
            .map(|x| x.parse().map_err(|_| format!("bad id list {s}")))
            .collect()
    };
    out.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["partition", p, "leader", l, "replicas", r, "isr", i] => Ok(PartitionInfo {
                    partition: p.parse().map_err(|_| format!("bad line {line}"))?,
                    leader: l.parse().map_err(|_| format!("bad line {line}"))?,
                    replicas: ids(r)?,
                    isr: ids(i)?,
                }),
                _ => Err(format!("bad describe-topic line: {line}")),
            }
        })
        .collect()
}

// ------------------------------------------------------------------ kcat

/// The kcat binary: `KAFKA_SYNC_KCAT`, else `kcat` on PATH.
pub fn kcat_path() -> PathBuf {
    match env::var("KAFKA_SYNC_KCAT") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("kcat"),
    }
}

/// Runs kcat with ARGS (and stdin) under [`KCAT_TIMEOUT`]; returns its raw stdout.
pub fn try_kcat(args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new(kcat_path());
    cmd.args(args);
    let out = run(cmd, stdin, KCAT_TIMEOUT, false)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "kcat {} failed ({}): {}",
            args.join(" "),
            out.status,
            out.stderr
        ))
    }
}

/// Runs kcat with ARGS; returns stdout as text, panics on failure.
pub fn kcat(args: &[&str]) -> String {
    String::from_utf8_lossy(&try_kcat(args, None).unwrap_or_else(|e| panic!("{e}"))).into_owned()
}

/// kcat's output format for [`kcat_consume`]: lengths first, so keys and values may hold
/// any bytes. Headers are kcat's `k=v,k2=v2` text (header text must avoid ',', '=' and
/// newlines).
const KCAT_FORMAT: &str = "R %p %o %T %K %S %k%s %h\\n";

/// Reads up to `count` records from the beginning of every partition of `topic` with
/// kcat (librdkafka), stopping at the end of the log. Panics on failure.
pub fn kcat_consume(bootstrap: &str, topic: &str, count: usize) -> Vec<PeerRecord> {
    try_kcat_consume(bootstrap, topic, count).unwrap_or_else(|e| panic!("{e}"))
}

/// [`kcat_consume`] returning the failure.
pub fn try_kcat_consume(
    bootstrap: &str,
    topic: &str,
    count: usize,
) -> Result<Vec<PeerRecord>, String> {
    let count_s = count.to_string();
    let out = try_kcat(
        &[
            "-C",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-c",
            &count_s,
            "-e",
            "-q",
            "-f",
            KCAT_FORMAT,
        ],
        None,
    )?;
    parse_kcat(&out)
}

fn parse_kcat(mut buf: &[u8]) -> Result<Vec<PeerRecord>, String> {
    fn field<'a>(buf: &mut &'a [u8]) -> Result<&'a str, String> {
        let end = buf
            .iter()
            .position(|&b| b == b' ')
            .ok_or("truncated kcat record")?;
        let s = std::str::from_utf8(&buf[..end]).map_err(|e| e.to_string())?;
        *buf = &buf[end + 1..];
        Ok(s)
    }
    fn num(s: &str) -> Result<i64, String> {
        s.parse()
            .map_err(|_| format!("bad number {s:?} in kcat output"))
    }
    fn bytes(buf: &mut &[u8], len: i64) -> Result<Option<Vec<u8>>, String> {
        if len < 0 {
            return Ok(None);
        }
        let len = len as usize;
        if buf.len() < len {
            return Err("truncated kcat record".into());
        }
        let b = buf[..len].to_vec();
        *buf = &buf[len..];
        Ok(Some(b))
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        if field(&mut buf)? != "R" {
            return Err("kcat output out of step".into());
        }
        let partition = num(field(&mut buf)?)? as i32;
        let offset = num(field(&mut buf)?)?;
        let timestamp = num(field(&mut buf)?)?;
        let klen = num(field(&mut buf)?)?;
        let vlen = num(field(&mut buf)?)?;
        let key = bytes(&mut buf, klen)?;
        let value = bytes(&mut buf, vlen)?;
        if buf.first() != Some(&b' ') {
            return Err("kcat output out of step after the value".into());
        }
        buf = &buf[1..];
        let end = buf
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("kcat record without a newline")?;
        let htext = std::str::from_utf8(&buf[..end]).map_err(|e| e.to_string())?;
        buf = &buf[end + 1..];
        let headers = if htext.is_empty() {
            Vec::new()
        } else {
            htext
                .split(',')
                .map(|h| match h.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.as_bytes().to_vec())),
                    None => (h.to_string(), None),
                })
                .collect()
        };
        out.push(PeerRecord {
            partition,
            offset,
            timestamp,
            key,
            value,
            headers,
        });
    }
    Ok(out)
}
