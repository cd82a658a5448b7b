//! Replays every fuzz corpus file through its target under plain `cargo test`, so inputs
//! the fuzzers found keep being checked without a fuzzer.

use std::path::Path;

use kafka_sync::protocol::fuzzing;

fn replay(target: &str, run: impl Fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("no corpus at {}", dir.display());
    };
    let mut n = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            let data = std::fs::read(&path).unwrap();
            run(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn record_batch_corpus() {
    assert!(replay("record_batches", fuzzing::fuzz_record_batches) > 0);
}

#[test]
fn record_round_trip_corpus() {
    assert!(replay("record_round_trip", fuzzing::fuzz_record_round_trip) > 0);
}

#[test]
fn decompress_corpus() {
    replay("decompress", |d| {
        if let Some((codec, rest)) = d.split_first() {
            fuzzing::fuzz_decompress(*codec, rest)
        }
    });
}

#[test]
fn varint_corpus() {
    replay("varints", fuzzing::fuzz_varints);
}

#[test]
fn frame_corpus() {
    assert!(replay("frame", fuzzing::fuzz_frame) > 0);
}

#[test]
fn response_corpus() {
    assert!(replay("responses", fuzzing::fuzz_response) > 0);
}

#[test]
fn sasl_corpus() {
    assert!(replay("sasl", fuzzing::fuzz_sasl) > 0);
}
