#![no_main]
//! Fuzz target: see `layerscope_fuzz::config_file`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_fuzz::config_file(data));
