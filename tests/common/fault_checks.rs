//! What every fault case asserts: a typed error (or the right result) within the
//! configured timeout + 1 s, recovery within 2 s once the fault ends, no I/O thread left
//! after drop, and, where memory is at stake, peak RSS measured in a child process.
//!
//! A memory case runs its client in a child: the test binary re-executes itself for
//! that one test with [`CHILD_BOOTSTRAP`] set to the proxy's address; the child runs the
//! client, prints its peak RSS (`VmHWM`) and exits. The parent keeps the proxy, so the
//! hostile data it builds does not count against the client.

use std::fmt::Display;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// Set in the child process: the bootstrap servers to use (the parent's proxy).
pub const CHILD_BOOTSTRAP: &str = "KAFKA_SYNC_FAULT_CHILD_BOOTSTRAP";
/// Set in the child process: the topic the case uses.
pub const CHILD_TOPIC: &str = "KAFKA_SYNC_FAULT_CHILD_TOPIC";
/// Set in the child process: a directory for the fault-end handshake with the parent.
pub const CHILD_DIR: &str = "KAFKA_SYNC_FAULT_CHILD_DIR";

/// Extra time a typed error may take beyond its configured timeout.
pub const GRACE: Duration = Duration::from_secs(1);

/// How soon the same client must succeed again once a fault ends.
pub const RECOVERY: Duration = Duration::from_secs(2);

/// Runs `f` and asserts it returned within `limit`.
pub fn within<T>(what: &str, limit: Duration, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took <= limit, "{what}: took {took:?}, more than {limit:?}");
    out
}

/// Calls `f` until it succeeds; asserts that it did within [`RECOVERY`] of the call.
pub fn recovers<T, E: Display>(what: &str, mut f: impl FnMut() -> Result<T, E>) -> T {
    let started = Instant::now();
    loop {
        match f() {
            Ok(v) => {
                eprintln!("{what}: recovered after {:?}", started.elapsed());
                return v;
            }
            Err(e) => {
                let took = started.elapsed();
                assert!(
                    took < RECOVERY,
                    "{what}: not recovered {took:?} after the fault ended: {e}"
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The names of this process's threads that start with `prefix`.
pub fn threads_named(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|n| n.trim_end().to_string())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that the I/O thread of the client with this id (`kafka-io-<id>`, which the
/// kernel cuts to 15 characters) is gone: call it right after dropping the client.
pub fn assert_no_io_thread(client_id: &str) {
    let name: String = format!("kafka-io-{client_id}").chars().take(15).collect();
    let deadline = Instant::now() + Duration::from_millis(500);
    while !threads_named(&name).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let left = threads_named(&name);
    assert!(left.is_empty(), "I/O threads left after drop: {left:?}");
}

/// This process's peak resident set size in KiB (`VmHWM`).
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The proxy address and the topic when this process is a memory case's child.
pub fn child_of_case() -> Option<(String, String)> {
    let bootstrap = std::env::var(CHILD_BOOTSTRAP)
        .ok()
        .filter(|s| !s.is_empty())?;
    Some((bootstrap, std::env::var(CHILD_TOPIC).unwrap_or_default()))
}

/// Ends a child: prints its peak RSS for the parent to read.
pub fn report_peak_rss() {
    println!("PEAK-RSS-KIB {}", peak_rss_kib());
}

/// In the child: asks the parent to end the fault and waits until it has.
pub fn child_end_fault() {
    let dir = std::path::PathBuf::from(std::env::var(CHILD_DIR).expect("run as a child"));
    std::fs::write(dir.join("end-fault"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("fault-ended").exists() {
        assert!(
            Instant::now() < deadline,
            "the parent did not end the fault"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Re-runs this test binary for `test` alone with [`CHILD_BOOTSTRAP`] = `bootstrap`
/// and [`CHILD_TOPIC`] = `topic`,
/// under an address-space limit of `max_vm_mib` (so an unbounded allocation fails the
/// child, not the machine), within `timeout`. Calls `end_fault` when the child asks
/// ([`child_end_fault`]). Returns the child's peak RSS in MiB and its output; panics if
/// it failed.
pub fn run_child(
    test: &str,
    bootstrap: &str,
    topic: &str,
    max_vm_mib: u64,
    timeout: Duration,
    end_fault: impl FnOnce() + Send + 'static,
) -> (u64, String) {
    let dir = std::env::temp_dir().join(super::unique_name("fault-child"));
    std::fs::create_dir_all(&dir).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (dir, done) = (dir.clone(), done.clone());
        thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if dir.join("end-fault").exists() {
                    end_fault();
                    let _ = std::fs::write(dir.join("fault-ended"), b"");
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {}; exec \"$@\"", max_vm_mib * 1024))
        .arg("sh")
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_BOOTSTRAP, bootstrap)
        .env(CHILD_TOPIC, topic)
        .env(CHILD_DIR, &dir);
    let out = super::run(cmd, None, timeout, false);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watcher.join();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}\n--- stderr\n{}", out.stderr);
    assert!(
        out.status.success(),
        "the child for {test} failed ({}):\n{text}",
        out.status
    );
    let kib: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("PEAK-RSS-KIB ").map(|(_, v)| v))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("the child for {test} printed no peak RSS:\n{text}"));
    (kib / 1024, text)
}
