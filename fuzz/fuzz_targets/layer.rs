#![no_main]
//! Fuzz target: see `layerscope_fuzz::layer`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_fuzz::layer(data));
