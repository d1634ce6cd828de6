//! The webhook parser on arbitrary bytes: `calling::webhook::events_from_body` must return
//! events or an error for any body, never panic (a signed body is still untrusted input).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = calling::webhook::events_from_body(data) {
        // What the processor stores and logs: serialising must not panic either.
        for event in &events {
            std::hint::black_box(format!("{event:?}"));
        }
    }
});
