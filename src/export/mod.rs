//! File formats of the exports: CSV (RFC 4180) and Excel workbooks, both safe to open in
//! a spreadsheet whatever the cells hold, and the XML of the company export.

pub mod csv;
pub mod xlsx;
pub mod xml;

/// Whether a spreadsheet would read `value` as a formula (or, for a leading tab or
/// carriage return, as something that turns into one when pasted): it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return.
pub fn looks_like_formula(value: &str) -> bool {
    value.starts_with(['=', '+', '-', '@', '\t', '\r'])
}
