#![no_main]
//! Fuzz target: see `layerscope_fuzz::containerd`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| layerscope_fuzz::containerd(data));
