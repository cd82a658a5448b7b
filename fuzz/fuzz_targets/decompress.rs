#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((codec, rest)) = data.split_first() {
        kafka_sync::protocol::fuzzing::fuzz_decompress(*codec, rest)
    }
});
