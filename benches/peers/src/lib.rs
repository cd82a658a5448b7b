//! What every benchmark driver shares: the command line, the payload file, send pacing,
//! latency stamps and the one-line JSON report. Each binary in `src/bin` only maps these
//! settings onto its client.
//!
//! ```text
//! <bin> produce --bootstrap HOST:PORT --topic T --records N --payload FILE
//!               [--acks 1|all] [--idempotence] [--compression none|gzip|lz4|snappy|zstd]
//!               [--linger-ms 5] [--batch-size 65536] [--rate MSGS_PER_S]
//!               [--config KEY=VALUE]...   (client properties, e.g. security settings)
//!               [--transactional-id ID [--txn-ms 100] [--txn-records 10000]]
//! <bin> consume --bootstrap HOST:PORT --topic T --records N
//!               [--fetch-max-bytes 52428800] [--max-partition-fetch-bytes 1048576]
//! <bin> latency --bootstrap HOST:PORT --topic T --rate MSGS_PER_S --records N --payload FILE
//!               [producer options]
//! ```
//!
//! Exit codes: 0 done, 1 failed, 2 bad command line, 3 the client cannot do this workload.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Produce,
    Consume,
    Latency,
}

/// The parsed command line.
#[derive(Debug, Clone)]
pub struct Args {
    pub mode: Mode,
    pub bootstrap: String,
    pub topic: String,
    pub records: u64,
    pub payload: Option<String>,
    /// "1" or "all".
    pub acks: String,
    pub idempotence: bool,
    /// none, gzip, lz4, snappy or zstd.
    pub compression: String,
    pub linger_ms: u64,
    pub batch_size: usize,
    /// Messages per second; 0 sends as fast as possible.
    pub rate: f64,
    pub fetch_max_bytes: usize,
    pub max_partition_fetch_bytes: usize,
    /// Extra client properties (`--config KEY=VALUE`), under the Java/librdkafka names:
    /// the security settings of the TLS workloads.
    pub config: Vec<(String, String)>,
    /// Produce in transactions with this id, committing every `txn_ms` or
    /// `txn_records` records, whichever comes first.
    pub transactional_id: Option<String>,
    pub txn_ms: u64,
    pub txn_records: u64,
}

/// Java's consumer defaults, used by every client.
pub const FETCH_MIN_BYTES: usize = 1;
pub const FETCH_MAX_WAIT_MS: u64 = 500;
/// A consumer that receives nothing for this long gives up.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

impl Args {
    /// Parses `std::env::args()`, exiting with code 2 on a bad command line.
    pub fn from_env() -> Args {
        match Args::parse(std::env::args().skip(1)) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }

    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut it = args.into_iter();
        let mode = match it.next().as_deref() {
            Some("produce") => Mode::Produce,
            Some("consume") => Mode::Consume,
            Some("latency") => Mode::Latency,
            other => return Err(format!("expected produce|consume|latency, got {other:?}")),
        };
        let mut a = Args {
            mode,
            bootstrap: "127.0.0.1:9092".into(),
            topic: String::new(),
            records: 0,
            payload: None,
            acks: "1".into(),
            idempotence: false,
            compression: "none".into(),
            linger_ms: 5,
            batch_size: 64 * 1024,
            rate: 0.0,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            config: Vec::new(),
            transactional_id: None,
            txn_ms: 100,
            txn_records: 10_000,
        };
        while let Some(flag) = it.next() {
            if flag == "--idempotence" {
                a.idempotence = true;
                continue;
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let num = |v: &str| {
                v.parse::<f64>()
                    .map_err(|_| format!("{flag}: not a number: {v}"))
            };
            match flag.as_str() {
                "--bootstrap" => a.bootstrap = value,
                "--topic" => a.topic = value,
                "--records" => a.records = num(&value)? as u64,
                "--payload" => a.payload = Some(value),
                "--acks" => a.acks = value,
                "--compression" => a.compression = value,
                "--linger-ms" => a.linger_ms = num(&value)? as u64,
                "--batch-size" => a.batch_size = num(&value)? as usize,
                "--rate" => a.rate = num(&value)?,
                "--fetch-max-bytes" => a.fetch_max_bytes = num(&value)? as usize,
                "--transactional-id" => a.transactional_id = Some(value),
                "--txn-ms" => a.txn_ms = num(&value)? as u64,
                "--txn-records" => a.txn_records = num(&value)? as u64,
                "--max-partition-fetch-bytes" => {
                    a.max_partition_fetch_bytes = num(&value)? as usize
                }
                "--config" => {
                    let (k, v) = value
                        .split_once('=')
                        .ok_or_else(|| format!("--config needs KEY=VALUE, not {value}"))?;
                    a.config.push((k.to_string(), v.to_string()));
                }
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        if a.topic.is_empty() || a.records == 0 {
            return Err("--topic and --records are required".into());
        }
        if a.mode != Mode::Consume && a.payload.is_none() {
            return Err("--payload is required".into());
        }
        if a.mode == Mode::Latency && a.rate <= 0.0 {
            return Err("latency needs --rate".into());
        }
        if !matches!(a.acks.as_str(), "1" | "all") {
            return Err(format!("--acks must be 1 or all, not {}", a.acks));
        }
        if !matches!(
            a.compression.as_str(),
            "none" | "gzip" | "lz4" | "snappy" | "zstd"
        ) {
            return Err(format!("unknown compression {}", a.compression));
        }
        Ok(a)
    }

    /// The record values, one per payload file line.
    pub fn payloads(&self) -> Payloads {
        let path = self.payload.as_deref().unwrap_or_default();
        let data = std::fs::read(path).unwrap_or_else(|e| fail(format!("reading {path}: {e}")));
        let lines: Vec<Vec<u8>> = data
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        if lines.is_empty() {
            fail(format!("{path} holds no payload lines"));
        }
        if self.mode == Mode::Latency && lines[0].len() < 8 {
            fail("latency payloads must be at least 8 bytes (they carry the send time)");
        }
        Payloads { lines }
    }
}

/// Record values, used in turn.
pub struct Payloads {
    pub lines: Vec<Vec<u8>>,
}

impl Payloads {
    pub fn get(&self, i: u64) -> &[u8] {
        &self.lines[(i % self.lines.len() as u64) as usize]
    }

    /// Record `i`'s value with its first 8 bytes replaced by `stamp` (little endian).
    pub fn stamped(&self, i: u64, stamp: u64) -> Vec<u8> {
        let mut v = self.get(i).to_vec();
        v[..8].copy_from_slice(&stamp.to_le_bytes());
        v
    }
}

/// When a transactional producer commits: every `txn_ms` or `txn_records` records.
pub struct TxnPacer {
    every: Duration,
    records: u64,
    opened: Instant,
    in_txn: u64,
}

impl TxnPacer {
    pub fn new(args: &Args) -> TxnPacer {
        TxnPacer {
            every: Duration::from_millis(args.txn_ms),
            records: args.txn_records.max(1),
            opened: Instant::now(),
            in_txn: 0,
        }
    }

    /// Counts one record sent; true when the transaction should commit now (the next
    /// one then starts counting).
    pub fn sent(&mut self) -> bool {
        self.in_txn += 1;
        // The clock is read every 64 records only: a syscall-free hot path.
        let due = self.in_txn >= self.records
            || (self.in_txn % 64 == 0 && self.opened.elapsed() >= self.every);
        if due {
            self.in_txn = 0;
            self.opened = Instant::now();
        }
        due
    }
}

/// Schedules sends at a fixed rate from a start time; with rate 0, never waits.
pub struct Pacer {
    rate: f64,
    start: Instant,
    start_wall_ns: u64,
}

impl Pacer {
    pub fn start(rate: f64) -> Pacer {
        Pacer {
            rate,
            start: Instant::now(),
            start_wall_ns: wall_ns(),
        }
    }

    /// Sleeps until record `i`'s intended send time (at once if already late) and
    /// returns that intended time as wall-clock nanoseconds.
    pub fn wait(&self, i: u64) -> u64 {
        if self.rate <= 0.0 {
            return wall_ns();
        }
        let offset = Duration::from_secs_f64(i as f64 / self.rate);
        let due = self.start + offset;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        self.start_wall_ns + offset.as_nanos() as u64
    }
}

/// Nanoseconds since the Unix epoch.
pub fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// End-to-end latency of a stamped value received now, in nanoseconds.
pub fn latency_of(value: &[u8]) -> u64 {
    let stamp = value
        .get(..8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    wall_ns().saturating_sub(stamp)
}

/// What a run measured.
pub struct Report {
    pub client: &'static str,
    pub mode: Mode,
    pub records: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub errors: u64,
    /// Per-record latencies in nanoseconds (latency mode).
    pub latencies_ns: Option<Vec<u64>>,
}

impl Report {
    /// Prints the one JSON line and exits 1 if any record failed.
    pub fn print(self) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mode = match self.mode {
            Mode::Produce => "produce",
            Mode::Consume => "consume",
            Mode::Latency => "latency",
        };
        let latency = match self.latencies_ns {
            None => "null".to_string(),
            Some(mut l) => {
                l.sort_unstable();
                let pct = |p: f64| {
                    let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
                    l[i] as f64 / 1000.0
                };
                format!(
                    "{{\"p50\":{:.1},\"p99\":{:.1},\"p999\":{:.1},\"max\":{:.1}}}",
                    pct(0.50),
                    pct(0.99),
                    pct(0.999),
                    l.last().copied().unwrap_or(0) as f64 / 1000.0
                )
            }
        };
        println!(
            "{{\"client\":\"{}\",\"mode\":\"{mode}\",\"records\":{},\"bytes\":{},\"elapsed_s\":{:.6},\"msgs_per_s\":{:.1},\"mb_per_s\":{:.2},\"errors\":{},\"latency_us\":{latency}}}",
            self.client,
            self.records,
            self.bytes,
            secs,
            self.records as f64 / secs,
            self.bytes as f64 / secs / 1e6,
            self.errors,
        );
        if self.errors > 0 {
            eprintln!("error: {} records failed", self.errors);
            std::process::exit(1);
        }
    }
}

/// Exits 1 with a message.
pub fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

/// Exits 1: the consumer received nothing for [`STALL_TIMEOUT`].
pub fn stalled(n: u64, want: u64) -> ! {
    fail(format!(
        "timeout: no record for {} s, {n} of {want} records arrived",
        STALL_TIMEOUT.as_secs()
    ))
}

/// Exits 3: the client cannot run this workload.
pub fn unsupported(what: impl std::fmt::Display) -> ! {
    eprintln!("unsupported: {what}");
    std::process::exit(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        Args::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_the_contract() {
        let a = args("produce --topic t --records 5e6 --payload p --acks all --idempotence --compression lz4 --rate 1000").unwrap();
        assert_eq!(
            (a.mode, a.records, a.acks.as_str(), a.idempotence),
            (Mode::Produce, 5_000_000, "all", true)
        );
        assert_eq!(
            (a.compression.as_str(), a.rate, a.linger_ms, a.batch_size),
            ("lz4", 1000.0, 5, 65536)
        );
        assert!(args("consume --topic t --records 10").is_ok());
        assert!(
            args("latency --topic t --records 10 --payload p").is_err(),
            "latency needs a rate"
        );
        assert!(args("produce --topic t --records 10 --payload p --acks 2").is_err());
        assert!(args("produce --topic t --records 10 --payload p --bogus 1").is_err());
    }
}
