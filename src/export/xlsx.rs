//! Excel workbooks (.xlsx) of tabular exports, one sheet with a header row.
//!
//! Rows arrive page by page over a channel and are written in constant-memory mode, in
//! which each finished row goes to a temporary file instead of staying in memory; the
//! workbook itself is then saved to an anonymous temporary file that the caller streams
//! out. So a large export costs disk, not memory. Rendering is CPU work and runs on a
//! blocking thread, never on the async workers.
//!
//! Every cell is written as text, never as a formula. A text that starts like a formula
//! also gets Excel's quote-prefix style, so that editing the cell keeps it text.

use std::io::{Seek, SeekFrom};

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use tokio::sync::mpsc;

use super::looks_like_formula;

/// Excel's limit of rows on a sheet.
const MAX_ROWS: u32 = 1_048_576;

/// Excel's limit of characters in a cell.
const MAX_CELL_CHARS: usize = 32_767;

/// The width given to every column, in characters: wide enough for times and emails.
const COLUMN_WIDTH: f64 = 24.0;

/// Writes a one-sheet workbook: `headers`, then every row received on `pages` until the
/// channel closes. Answers the file, positioned at its start. Call it on a blocking
/// thread.
pub fn render(
    sheet: &str,
    headers: &[&str],
    mut pages: mpsc::Receiver<Vec<Vec<String>>>,
) -> Result<std::fs::File, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let text = Format::new();
    let quoted = Format::new().set_quote_prefix();
    let worksheet = workbook.add_worksheet_with_constant_memory()?;
    worksheet.set_name(sheet)?;
    worksheet.set_freeze_panes(1, 0)?;
    for (col, header) in (0_u16..).zip(headers) {
        worksheet.set_column_width(col, COLUMN_WIDTH)?;
        worksheet.write_string_with_format(0, col, *header, &bold)?;
    }

    // One row per record; past Excel's limit the sheet says that it stops there.
    let mut row = 1_u32;
    while let Some(page) = pages.blocking_recv() {
        for record in page {
            if row == MAX_ROWS - 1 {
                let note = "Excel holds no more rows: export the rest with a narrower filter.";
                worksheet.write_string_with_format(row, 0, note, &bold)?;
                row += 1;
            }
            if row >= MAX_ROWS {
                break;
            }
            for (col, value) in (0_u16..).zip(&record) {
                let value = clip(value);
                let format = if looks_like_formula(value) {
                    &quoted
                } else {
                    &text
                };
                worksheet.write_string_with_format(row, col, value, format)?;
            }
            row += 1;
        }
    }

    let mut file = tempfile::tempfile()?;
    workbook.save_to_writer(&mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// Cuts a value to what one cell holds, on a character boundary.
fn clip(value: &str) -> &str {
    match value.char_indices().nth(MAX_CELL_CHARS) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}
