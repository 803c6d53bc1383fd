#![no_main]
//! Fuzz target: see `layerscope_fuzz::archive`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_fuzz::archive(data));
