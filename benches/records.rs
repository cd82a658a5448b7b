//! Record batch encode and decode speed, beside the machine's floor for the same bytes.
//!
//! Run with `cargo bench --bench records`. For each record size and codec it reports
//! ns per record and GB/s of wire bytes for:
//! - encode: `RecordBatchBuilder` appends plus `finish` (header, compression, CRC-32C);
//! - decode: `batches` with CRC checks, then `records()` for every batch, then drop;
//! - floor: a memcpy of the wire bytes plus a CRC-32C over them, the least any decoder
//!   that checks CRCs and hands out owned data could do.
//!
//! Each figure is the median of 5 timed runs of at least 200 ms. Arguments filter the
//! cases by label, e.g. `cargo bench --bench records -- 100B/none/decode`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_sync::protocol::compression::Compression;
use kafka_sync::protocol::records::{batches, RecordBatchBuilder};

/// The producer's default `batch.size`.
const BATCH_SIZE: usize = 16 * 1024;
/// Records per measured workload.
const RECORDS: usize = 50_000;

/// Values: JSON-like text with repeated field names and varying numbers, which lz4
/// compresses about 2:1 (like typical event payloads).
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let fields = [
        "user_id", "session", "event", "amount", "ts", "region", "device",
    ];
    let mut out = Vec::with_capacity(len + 32);
    out.push(b'{');
    while out.len() < len {
        let f = fields[(next() % fields.len() as u64) as usize];
        let v = next() % 1_000_000_000;
        out.extend_from_slice(format!("\"{f}\":{v},").as_bytes());
    }
    out.truncate(len);
    out
}

struct Workload {
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
}

impl Workload {
    fn new(value_len: usize) -> Self {
        Workload {
            keys: (0..RECORDS)
                .map(|i| format!("key-{i:06}").into_bytes())
                .collect(),
            values: (0..RECORDS as u64).map(|i| payload(i, value_len)).collect(),
        }
    }

    /// Encodes every record into batches of about `BATCH_SIZE`, handing each finished
    /// batch to `sink` (a producer sends and frees batches as it goes).
    fn encode(&self, codec: Compression, mut sink: impl FnMut(Bytes)) {
        let mut builder = RecordBatchBuilder::new(BATCH_SIZE);
        for (i, (k, v)) in self.keys.iter().zip(&self.values).enumerate() {
            if builder.record_count() > 0
                && builder.estimated_size_after(k.len(), v.len(), &[]) > BATCH_SIZE
            {
                let full = std::mem::replace(&mut builder, RecordBatchBuilder::new(BATCH_SIZE));
                sink(full.finish(codec, None, -1, -1, -1, false).unwrap());
            }
            builder.append(1_700_000_000_000 + i as i64, Some(k), Some(v), &[]);
        }
        sink(builder.finish(codec, None, -1, -1, -1, false).unwrap());
    }

    /// The batches as one Fetch response's records, with real base offsets.
    fn fetch_response(&self, codec: Compression) -> Bytes {
        let mut data = Vec::new();
        let mut offset = 0i64;
        self.encode(codec, |batch| {
            let mut b = batch.to_vec();
            b[..8].copy_from_slice(&offset.to_be_bytes());
            let count = i32::from_be_bytes([b[57], b[58], b[59], b[60]]);
            offset += count as i64;
            data.extend_from_slice(&b);
        });
        data.into()
    }
}

fn decode(data: &Bytes, check_crcs: bool) -> usize {
    let mut n = 0;
    for batch in batches(data.clone(), check_crcs) {
        let records = batch.unwrap().records(usize::MAX).unwrap();
        n += records.len();
        black_box(&records);
    }
    n
}

/// Median time of one call of `f` over 5 runs of at least 200 ms each.
fn time(mut f: impl FnMut()) -> Duration {
    f(); // warm up
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut iters = 0u32;
        while start.elapsed() < Duration::from_millis(200) {
            f();
            iters += 1;
        }
        runs.push(start.elapsed() / iters);
    }
    runs.sort();
    runs[2]
}

fn report(what: &str, t: Duration, records: usize, bytes: usize) {
    let ns = t.as_nanos() as f64 / records as f64;
    let gbs = bytes as f64 / t.as_secs_f64() / 1e9;
    println!("  {what:<28} {ns:>8.1} ns/record {gbs:>7.2} GB/s");
}

/// Runs and reports a case if its label passes the command-line filters.
fn case(
    filters: &[String],
    label: &str,
    what: &str,
    records: usize,
    bytes: usize,
    f: impl FnMut(),
) -> Option<Duration> {
    if !filters.is_empty() && !filters.iter().any(|f| label.contains(f.as_str())) {
        return None;
    }
    let t = time(f);
    report(what, t, records, bytes);
    Some(t)
}

fn main() {
    // cargo passes `--bench`; anything else filters the cases.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!("records bench: {RECORDS} records, batches of {BATCH_SIZE} bytes");
    let phases = ["encode", "decode", "nocrc", "floor"];
    for value_len in [100, 1024] {
        let mut workload = None;
        for codec in [Compression::None, Compression::Lz4] {
            if !codec.is_available() {
                continue;
            }
            let label = format!("{value_len}B/{codec}");
            let wanted = filters.is_empty()
                || phases.iter().any(|p| {
                    let full = format!("{label}/{p}");
                    filters.iter().any(|f| full.contains(f.as_str()))
                });
            if !wanted {
                continue;
            }
            let w = workload.get_or_insert_with(|| Workload::new(value_len));
            let data = w.fetch_response(codec);
            let wire = data.len();
            println!(
                "\n{value_len} B values, {codec}: {wire} wire bytes ({:.1} per record)",
                wire as f64 / RECORDS as f64
            );
            assert_eq!(decode(&data, true), RECORDS);

            case(
                &filters,
                &format!("{label}/encode"),
                "encode",
                RECORDS,
                wire,
                || {
                    w.encode(codec, |batch| {
                        black_box(batch);
                    });
                },
            );
            let t_decode = case(
                &filters,
                &format!("{label}/decode"),
                "decode + CRC",
                RECORDS,
                wire,
                || {
                    black_box(decode(&data, true));
                },
            );
            case(
                &filters,
                &format!("{label}/nocrc"),
                "decode, no CRC",
                RECORDS,
                wire,
                || {
                    black_box(decode(&data, false));
                },
            );
            let mut copy = vec![0u8; wire];
            let t_floor = case(
                &filters,
                &format!("{label}/floor"),
                "floor: memcpy + CRC-32C",
                RECORDS,
                wire,
                || {
                    copy.copy_from_slice(black_box(&data));
                    black_box(crc32c::crc32c(black_box(&copy)));
                },
            );
            if let (Some(d), Some(f)) = (t_decode, t_floor) {
                println!(
                    "  decode + CRC / floor        {:>8.2}x",
                    d.as_secs_f64() / f.as_secs_f64()
                );
            }
        }
    }
}
