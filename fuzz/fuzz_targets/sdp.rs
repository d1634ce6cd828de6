//! SDP handling on arbitrary text: the simulator's check of the business's offers and answers
//! (Meta's rules on top of str0m's parser) must accept or refuse, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simulator::sdp::{SdpRole, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else { return };
    let _ = validate(sdp, SdpRole::Offer);
    let _ = validate(sdp, SdpRole::Answer);
});
