//! The XML file format of the company export: writing it a row at a time, and reading
//! a whole file back for `kaizen import`.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <kaizen-export format-version="1" scope="company" exported-at="2026-12-04T21:00:00Z">
//!   <company id="…" slug="acme"><name>Acme</name></company>
//!   <users><user id="…"><email>…</email>…</user>…</users>
//!   <cycles><cycle id="…"><name>…</name>…<question id="…">…</question></cycle></cycles>
//!   <reviews><review id="…">…<answer question-id="…" kind="text">…</answer></review></reviews>
//!   <objectives>…</objectives><comments>…</comments><feedback>…</feedback>
//!   <feedback-requests>…</feedback-requests><feedback-answers>…</feedback-answers>
//! </kaizen-export>
//! ```
//!
//! Rows are elements with an `id` attribute; their values are child elements holding
//! text; missing optional values are left out. The sections and their rows are listed
//! in `kaizen_actors::company::xml`, which reads and writes the rows.

use std::io::BufRead;

use kaizen_actors::company::xml::{FORMAT_VERSION, MAX_DEPTH, Node, ROOT, XmlExport, XmlScope};
use quick_xml::events::Event;

/// The XML declaration and the root's opening tag, with the `<company>` element.
pub fn prologue(export: &XmlExport, scope: &XmlScope, exported_at: &str) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<{ROOT} format-version=\"{FORMAT_VERSION}\" scope=\"{}\" exported-at=\"{}\">\n",
        scope.name(),
        escape(exported_at, true)
    ));
    let company = Node::new("company")
        .attr("id", export.company_id.clone())
        .attr("slug", export.slug.clone())
        .field("name", export.name.clone())
        .field("skip-level-visible", export.skip_level_visible.to_string());
    render(&company, 1, &mut out);
    out
}

/// The root's closing tag.
pub fn epilogue() -> String {
    format!("</{ROOT}>\n")
}

/// Writes `node` and its children, indented by `depth` levels.
pub fn render(node: &Node, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    out.push_str(&indent);
    out.push('<');
    out.push_str(&node.name);
    for (name, value) in &node.attrs {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        out.push_str(&escape(value, true));
        out.push('"');
    }
    if node.children.is_empty() {
        if node.text.is_empty() {
            out.push_str("/>\n");
        } else {
            out.push('>');
            out.push_str(&escape(&node.text, false));
            out.push_str("</");
            out.push_str(&node.name);
            out.push_str(">\n");
        }
        return;
    }
    out.push_str(">\n");
    for child in &node.children {
        render(child, depth + 1, out);
    }
    out.push_str(&indent);
    out.push_str("</");
    out.push_str(&node.name);
    out.push_str(">\n");
}

/// Escapes text for XML 1.0. Markup characters become entities; carriage returns (and,
/// in attributes, tabs and line feeds) become character references so that a reader
/// gets them back unchanged. Characters XML 1.0 cannot carry at all (most control
/// characters) become U+FFFD.
pub fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Whether XML 1.0 allows `c` in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// Why a file could not be read as an export.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not well-formed XML; the position is a byte offset into the file.
    #[error("not well-formed XML near byte {position}: {message}")]
    Malformed {
        /// Where the reader stopped.
        position: u64,
        /// What it found.
        message: String,
    },
    /// Well-formed, but not shaped like an export.
    #[error("{0}")]
    Shape(String),
}

/// Reads a whole export into its element tree. Refuses a document type declaration
/// (no entities are ever expanded), nesting deeper than the format needs, and anything
/// after the root.
pub fn parse<R: BufRead>(input: R) -> Result<Node, ParseError> {
    let mut reader = quick_xml::Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let malformed = |reader: &quick_xml::Reader<R>, message: String| ParseError::Malformed {
        position: reader.buffer_position(),
        message,
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|error| malformed(&reader, error.to_string()))?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                if root.is_some() {
                    return Err(ParseError::Shape("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::Shape(format!(
                        "elements nest deeper than {MAX_DEPTH} levels"
                    )));
                }
                let name = String::from_utf8(start.name().as_ref().to_vec())
                    .map_err(|_| malformed(&reader, "an element name is not UTF-8".into()))?;
                let mut node = Node::new(&name);
                for attribute in start.attributes() {
                    let attribute =
                        attribute.map_err(|error| malformed(&reader, error.to_string()))?;
                    let key = String::from_utf8(attribute.key.as_ref().to_vec())
                        .map_err(|_| malformed(&reader, "a name is not UTF-8".into()))?;
                    let value = attribute
                        .unescape_value()
                        .map_err(|error| malformed(&reader, error.to_string()))?;
                    node.attrs.push((key, value.into_owned()));
                }
                if empty {
                    close(&mut stack, &mut root, node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| malformed(&reader, "an end tag without a start".into()))?;
                close(&mut stack, &mut root, node);
            }
            Event::Text(text) => {
                let text = text
                    .unescape()
                    .map_err(|error| malformed(&reader, error.to_string()))?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(ParseError::Shape("text outside the root element".into())),
                }
            }
            Event::CData(data) => {
                let text = String::from_utf8(data.into_inner().into_owned())
                    .map_err(|_| malformed(&reader, "CDATA is not UTF-8".into()))?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&text),
                    None => return Err(ParseError::Shape("text outside the root element".into())),
                }
            }
            Event::DocType(_) => {
                return Err(ParseError::Shape(
                    "a document type declaration is not allowed".into(),
                ));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(ParseError::Malformed {
            position: reader.buffer_position(),
            message: format!("<{}> is not closed", stack[stack.len() - 1].name),
        });
    }
    root.ok_or_else(|| ParseError::Shape("the file holds no element".into()))
}

/// Hangs a finished element on its parent, or makes it the root.
fn close(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_survives_a_round_trip_through_escaping_and_parsing() {
        let tricky = "a < b && c > \"d\" 'e'\r\nline\ttab ]]> &amp; é 日本 \u{1F600}";
        let node = Node::new("kaizen-export")
            .attr("note", tricky)
            .field("text", tricky);
        let mut out = String::new();
        render(&node, 0, &mut out);
        let parsed = parse(out.as_bytes()).expect("the rendered XML parses");
        assert_eq!(parsed.get_attr("note"), Some(tricky));
        assert_eq!(parsed.get("text"), Some(tricky));
    }

    #[test]
    fn characters_xml_cannot_carry_become_replacement_characters() {
        assert_eq!(escape("a\u{1}b\u{FFFE}", false), "a\u{FFFD}b\u{FFFD}");
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a>&unknown;</a>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "text",
            "<a x=\"1\" x=\"2\"/>",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} is refused");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err(), "deep nesting is refused");
    }
}
