#![no_main]
//! Fuzz target: see `layerscope_fuzz::manifests`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_fuzz::manifests(data));
