//! CSV as RFC 4180 writes it: fields separated by commas, records ended by CRLF, a field
//! quoted when it holds a comma, a quote or a line break, quotes inside doubled. UTF-8,
//! without a byte-order mark.
//!
//! Every field is also neutralized against formula injection: one a spreadsheet would
//! read as a formula gets a leading `'`, which spreadsheets show as text and which a
//! reader of the data can strip again.

use super::looks_like_formula;

/// Appends one record (a line) to `out`.
pub fn record<I, S>(out: &mut String, fields: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    for (n, value) in fields.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        field(out, value.as_ref());
    }
    out.push_str("\r\n");
}

/// Appends one field, neutralized and quoted as needed.
fn field(out: &mut String, value: &str) {
    let prefix = if looks_like_formula(value) { "'" } else { "" };
    let quoted = value.contains([',', '"', '\r', '\n']);
    if !quoted {
        out.push_str(prefix);
        out.push_str(value);
        return;
    }
    out.push('"');
    out.push_str(prefix);
    out.push_str(&value.replace('"', "\"\""));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[&str]) -> String {
        let mut out = String::new();
        record(&mut out, fields);
        out
    }

    #[test]
    fn plain_fields_are_written_as_they_are() {
        assert_eq!(line(&["a", "b c", "Zoë 日本", ""]), "a,b c,Zoë 日本,\r\n");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted() {
        assert_eq!(
            line(&["a,b", "say \"hi\"", "two\nlines", "cr\ronly"]),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\ronly\"\r\n"
        );
    }

    #[test]
    fn formula_starts_get_a_leading_quote() {
        assert_eq!(
            line(&["=1+1", "+x", "-x", "@x", "\tx", "1-2", "a=b"]),
            "'=1+1,'+x,'-x,'@x,'\tx,1-2,a=b\r\n"
        );
        // Quoting and neutralizing together: the mark goes inside the quotes.
        assert_eq!(
            line(&["\rx", "=HYPERLINK(\"http://x\",\"y\")"]),
            "\"'\rx\",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n"
        );
    }
}
