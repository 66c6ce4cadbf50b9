#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wallet_core::fuzzing::resource_members(data));
