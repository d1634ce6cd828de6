//! Every country calling code with the lengths of its national numbers and its trunk prefix:
//! the part of libphonenumber's metadata that deciding "is this a phone number" needs.
//!
//! The table itself (`calling_codes_table.in`) is generated from the `phonenumber` crate by the
//! test below, which fails whenever the crate's metadata says something else; regenerate it
//! with `REGENERATE_CALLING_CODES=1 cargo test -p calling calling_code_table`.

/// One country calling code.
#[derive(Debug)]
pub(super) struct CallingCode {
    pub code: u16,
    /// ISO 3166 alpha-2 code of the code's main country; empty for non-geographic codes
    /// (`+800`, `+882`, …).
    main_country: &'static str,
    /// Bit `n` is set when some number type of the code's countries has `n` national digits.
    lengths: u32,
    /// What people dial before a national number at home (`0` in the UK, `1` in the USA,
    /// `8` in Russia); empty where there is none (Italy keeps its leading zero).
    pub trunk_prefix: &'static str,
}

impl CallingCode {
    pub fn has_length(&self, digits: usize) -> bool {
        digits < 32 && self.lengths & (1 << digits) != 0
    }

    pub fn main_country(&self) -> Option<&'static str> {
        Some(self.main_country).filter(|country| !country.is_empty())
    }
}

// `CALLING_CODES` (sorted by code) and `COUNTRIES` (sorted), generated (see above).
include!("calling_codes_table.in");

/// Whether `id` is the ISO 3166 alpha-2 code of a country or territory with phone numbers.
pub fn is_country(id: &str) -> bool {
    COUNTRIES.binary_search(&id).is_ok()
}

/// The calling code `international` (digits, country code first) starts with. Calling codes
/// are prefix-free (no code begins another), so at most one of the 1-, 2- and 3-digit
/// prefixes is one.
pub(super) fn find(international: &str) -> Option<&'static CallingCode> {
    (1..=3.min(international.len())).find_map(|digits| {
        let code: u16 = international[..digits].parse().ok()?;
        CALLING_CODES.binary_search_by_key(&code, |entry| entry.code).ok().map(|index| &CALLING_CODES[index])
    })
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    /// The table as libphonenumber's metadata (through the `phonenumber` crate) has it.
    fn generated_table() -> String {
        let database = &*phonenumber::metadata::DATABASE;
        let mut out = String::from(
            "// Generated from libphonenumber's metadata by calling_codes.rs's test; do not edit.\n\
             const CALLING_CODES: &[CallingCode] = &[\n",
        );
        for code in 1..=999u16 {
            let Some(regions) = database.by_code(&code) else { continue };
            if regions.is_empty() {
                continue;
            }
            let main =
                regions.iter().find(|metadata| metadata.is_main_country_for_code()).unwrap_or(&regions[0]);
            let main_country = if main.id() == "001" { "" } else { main.id() };
            let mut lengths = 0u32;
            for metadata in &regions {
                let descriptors = metadata.descriptors();
                // Every type a caller could be put through to (not short or emergency codes).
                let types = [
                    Some(descriptors.general()),
                    descriptors.fixed_line(),
                    descriptors.mobile(),
                    descriptors.toll_free(),
                    descriptors.premium_rate(),
                    descriptors.shared_cost(),
                    descriptors.personal_number(),
                    descriptors.voip(),
                    descriptors.pager(),
                    descriptors.uan(),
                    descriptors.voicemail(),
                ];
                for length in types.into_iter().flatten().flat_map(|descriptor| descriptor.possible_length())
                {
                    lengths |= 1 << length;
                }
            }
            let trunk_prefix = main.national_prefix().unwrap_or_default();
            out.push_str(&format!(
                "    CallingCode {{ code: {code}, main_country: {main_country:?}, lengths: {lengths:#x}, trunk_prefix: {trunk_prefix:?} }},\n"
            ));
        }
        out.push_str("];\n\nconst COUNTRIES: &[&str] = &[\n");
        let mut countries: Vec<&str> =
            database.iter().map(|metadata| metadata.id()).filter(|id| *id != "001").collect();
        countries.sort_unstable();
        countries.dedup();
        for line in countries.chunks(16) {
            let line: Vec<String> = line.iter().map(|id| format!("{id:?}")).collect();
            out.push_str(&format!("    {},\n", line.join(", ")));
        }
        out.push_str("];\n");
        out
    }

    #[test]
    fn calling_code_table_is_libphonenumbers() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/phone/calling_codes_table.in");
        let fresh = generated_table();
        if std::env::var_os("REGENERATE_CALLING_CODES").is_some() {
            std::fs::write(path, &fresh).unwrap();
        }
        let stored = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            stored == fresh,
            "calling_codes_table.in differs from the phonenumber crate's metadata; \
             regenerate it with REGENERATE_CALLING_CODES=1 cargo test -p calling calling_code_table"
        );
    }

    #[test]
    fn finds_one_two_and_three_digit_codes() {
        assert_eq!(find("14155552671").unwrap().code, 1);
        assert_eq!(find("442079460958").unwrap().code, 44);
        assert_eq!(find("2348031234567").unwrap().code, 234);
        assert_eq!(find("80012345678").unwrap().main_country(), None);
        assert!(find("9991234").is_none());
    }

    #[test]
    fn countries_are_phonenumbers_countries() {
        for id in ["IN", "US", "GB", "BR", "GG"] {
            assert!(is_country(id) && id.parse::<phonenumber::country::Id>().is_ok(), "{id}");
        }
        assert!(!is_country("XX") && !is_country("001") && !is_country("in"));
    }
}
