#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kafka_sync::protocol::fuzzing::fuzz_sasl(data));
