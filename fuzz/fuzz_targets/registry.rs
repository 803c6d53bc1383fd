#![no_main]
//! Fuzz target: see `layerscope_fuzz::registry`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_fuzz::registry(data));
