//! CSV (RFC 4180) for the exports a spreadsheet opens: call history, billing statements.
//! Free text never runs as a formula (CSV injection), numbers stay numeric.

/// Quotes a field when it needs it; a leading `=`, `+`, `-` or `@` in free text is prefixed with
/// `'` so a spreadsheet never runs it as a formula (numbers — amounts, `+44…` phone numbers —
/// stay as they are).
pub fn escape(field: &str) -> String {
    let is_number = field.parse::<i64>().is_ok() || field.parse::<f64>().is_ok_and(f64::is_finite);
    let field = if !is_number && field.starts_with(['=', '+', '-', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\r', '\n']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field }
}

/// Appends one record (fields escaped, CRLF-terminated) to `out`.
pub fn push_record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    let escaped: Vec<String> = fields.iter().map(|field| escape(field.as_ref())).collect();
    out.push_str(&escaped.join(","));
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a,b"), "\"a,b\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(escape("-1.50"), "-1.50");
        assert_eq!(escape("+447700900123"), "+447700900123");
        assert_eq!(escape("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        let mut out = String::new();
        push_record(&mut out, &["a", "b,c", ""]);
        assert_eq!(out, "a,\"b,c\",\r\n");
    }
}
