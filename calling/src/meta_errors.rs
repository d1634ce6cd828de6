//! WhatsApp's calling error codes in plain words, for the call detail page and API errors.
//! Source: the reference's §7.1 table (Meta's troubleshooting page).

/// What a WhatsApp calling error code means, in words a business user understands.
pub fn plain_reason(code: i64) -> &'static str {
    match code {
        100 => "WhatsApp refused a parameter of the request (often the SDP).",
        613 => "Too many permission look-ups in a short time; try again shortly.",
        131009 => "Call buttons are not supported for this sender's country.",
        131030 => "The number is not in the test number's allowed list.",
        131044 => "The WhatsApp Business Account has no valid payment method.",
        131055 => "This number uses SIP, so calls cannot be handled through the Graph API.",
        138000 => "Calling is not enabled on this business number.",
        138001 => "The person cannot be called (not on WhatsApp, or their app does not support calls).",
        138002 => "The number has reached WhatsApp's limit of 1,000 concurrent calls.",
        138003 => "There is already a call in progress with this person.",
        138004 => "WhatsApp had a connection error.",
        138005 => "Too many calls were started in a short time.",
        138006 => "The person has not given permission to be called.",
        138007 => "The call's audio setup was not completed in time.",
        138009 => "The limit of call permission requests to this person was reached.",
        138012 => "The daily limit of connected calls to this person was reached.",
        138013 => "WhatsApp does not allow business-initiated calls from this number's country.",
        138014 => "Calling is temporarily disabled on this number because of low call quality.",
        138015 => "Calling cannot be enabled until the number's messaging limit is at least 2,000.",
        138017 => "The person has already given permanent permission.",
        138018 => "The app is not set up for calls (no subscription to the calls webhook).",
        138019 => "The call could not be set up.",
        138020 => "The connection to WhatsApp's media relay failed.",
        138021 => "No audio reached WhatsApp, so the call was dropped.",
        138022 => "WhatsApp could not send audio, so the call was dropped.",
        138023 => "The call was answered but no audio ever flowed.",
        _ => "WhatsApp reported an error it did not explain.",
    }
}

#[cfg(test)]
mod tests {
    use super::plain_reason;

    #[test]
    fn known_codes_have_their_own_words_and_unknown_ones_a_fallback() {
        assert!(plain_reason(138021).contains("No audio"));
        assert!(plain_reason(138006).contains("permission"));
        assert_eq!(plain_reason(1), plain_reason(424242));
    }
}
