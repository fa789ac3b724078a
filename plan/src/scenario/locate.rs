//! Finds the line of a key path (`scenarios.browse.requests[1].url`) in block-style
//! YAML text, for errors found after deserializing or that the parser places on
//! the mapping rather than the key; and renders key paths for messages.
//!
//! It also holds k6's camelCase spellings of keys ([`ALIASES`]), which both
//! finding a line and wording a duplicate-key error need. It is a best-effort
//! text search, not a YAML parser: it does not validate anything and does not
//! build errors (`error` does).

/// k6's camelCase spellings accepted beside the snake_case keys (serde aliases);
/// giving both spellings of one key is refused naming both.
pub(super) const ALIASES: &[(&str, &str)] = &[
    ("time_unit", "timeUnit"),
    ("start_vus", "startVUs"),
    ("max_duration", "maxDuration"),
    ("graceful_ramp_down", "gracefulRampDown"),
    ("graceful_stop", "gracefulStop"),
    ("start_time", "startTime"),
    ("pre_allocated_vus", "preAllocatedVUs"),
    ("max_vus", "maxVUs"),
    ("expected_statuses", "expectedStatuses"),
];

/// One step of a key path, for messages and for finding a key's line.
#[derive(Debug, Clone, Copy)]
pub(super) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

pub(super) fn render_path(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A significant (not blank, not comment-only) line of the file.
struct TextLine<'a> {
    number: usize,
    indent: usize,
    body: &'a str,
}

impl<'a> TextLine<'a> {
    fn is_item(&self) -> bool {
        self.body == "-" || self.body.starts_with("- ")
    }

    /// Column and text of the first key on the line, after any `- ` item markers.
    fn key(&self) -> (usize, &'a str) {
        let mut col = self.indent;
        let mut body = self.body;
        while let Some(rest) = body.strip_prefix("- ") {
            let trimmed = rest.trim_start_matches(' ');
            col += body.len() - trimmed.len();
            body = trimmed;
        }
        (col, body)
    }
}

/// If `body` starts with the mapping key `key` (plain or quoted), the text after the colon.
fn after_key<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    for quote in ["", "\"", "'"] {
        let Some(rest) = body
            .strip_prefix(quote)
            .and_then(|b| b.strip_prefix(key))
            .and_then(|b| b.strip_prefix(quote))
        else {
            continue;
        };
        let rest = rest.trim_start_matches(' ');
        if let Some(value) = rest.strip_prefix(':')
            && (value.is_empty() || value.starts_with([' ', '\t']))
        {
            return Some(value.trim());
        }
    }
    None
}

/// The significant lines of a file.
fn text_lines(text: &str) -> Vec<TextLine<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let body = raw.trim_start_matches(' ').trim_end();
            let body = body.trim_start_matches('\u{feff}');
            (!(body.is_empty() || body.starts_with('#') || body == "---")).then(|| TextLine {
                number: i + 1,
                indent: raw.len() - raw.trim_start_matches(' ').len(),
                body,
            })
        })
        .collect()
}

/// Line of the second `key` in the block mapping that starts at `line`:`column`
/// (1-based, as the parser reports a mapping's start).
pub(super) fn duplicate_line(text: &str, line: usize, column: usize, key: &str) -> Option<usize> {
    let lines = text_lines(text);
    let start = lines.iter().position(|l| l.number == line)?;
    let col = column.checked_sub(1)?;
    let mut seen = 0;
    for (j, l) in lines.iter().enumerate().skip(start) {
        if j > start && l.indent < col {
            break;
        }
        let (c, body) = l.key();
        if c == col && after_key(body, key).is_some() {
            seen += 1;
            if seen == 2 {
                return Some(l.number);
            }
        }
    }
    None
}

/// k6's camelCase spelling of a snake_case key, if it has one.
fn alias_of(key: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|(snake, _)| *snake == key)
        .map(|(_, camel)| *camel)
}

/// Best-effort line of a key path in block-style YAML, for errors found after
/// deserializing. Flow-style values (`{ rate: -5 }`) report the line they start on.
pub(super) fn line_of(text: &str, path: &[Seg<'_>]) -> Option<usize> {
    let lines = text_lines(text);
    let mut range = 0..lines.len();
    let mut found = None;
    for seg in path {
        let first = lines.get(range.start).filter(|_| !range.is_empty())?;
        match seg {
            Seg::Key(key) => {
                let col = first.key().0;
                let (i, value) = range.clone().find_map(|i| {
                    let (c, body) = lines[i].key();
                    (c == col)
                        .then(|| after_key(body, key).or_else(|| after_key(body, alias_of(key)?)))
                        .flatten()
                        .map(|v| (i, v))
                })?;
                found = Some(lines[i].number);
                if !value.is_empty() && !value.starts_with('#') {
                    // Inline (flow) value: everything below starts on this line.
                    return found;
                }
                let end = (i + 1..range.end)
                    .find(|&j| {
                        let l = &lines[j];
                        l.indent < col || (l.indent == col && !l.is_item())
                    })
                    .unwrap_or(range.end);
                range = i + 1..end;
            }
            Seg::Index(index) => {
                if !first.is_item() {
                    return None;
                }
                let starts: Vec<usize> = range
                    .clone()
                    .filter(|&j| lines[j].indent == first.indent && lines[j].is_item())
                    .collect();
                let start = *starts.get(*index)?;
                let end = starts.get(index + 1).copied().unwrap_or(range.end);
                found = Some(lines[start].number);
                if lines[start].key().1.starts_with(['{', '[']) {
                    // Flow-style item: everything below starts on this line.
                    return found;
                }
                range = start..end;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_finds_block_keys_list_items_and_flow_values() {
        let text =
            "a:\n  b:\n    - x: 1\n      y: 2\n    - x: 3\n      # c\n      y: 4\n  c: { d: 1 }\n";
        let find = |path: &[Seg<'_>]| line_of(text, path);
        assert_eq!(find(&[Seg::Key("a"), Seg::Key("b")]), Some(2));
        assert_eq!(
            find(&[Seg::Key("a"), Seg::Key("b"), Seg::Index(1), Seg::Key("y")]),
            Some(7)
        );
        assert_eq!(
            find(&[Seg::Key("a"), Seg::Key("b"), Seg::Index(0), Seg::Key("y")]),
            Some(4)
        );
        assert_eq!(
            find(&[Seg::Key("a"), Seg::Key("c"), Seg::Key("d")]),
            Some(8)
        );
        assert_eq!(find(&[Seg::Key("a"), Seg::Key("zz")]), None);
    }
}
