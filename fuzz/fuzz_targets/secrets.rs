#![no_main]
//! Fuzz target: see `layerscope_fuzz::secrets`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_fuzz::secrets(data));
