//! How deeply a scenario file nests, measured before the YAML parser sees it:
//! the parser's own time grows steeply with nesting (a 200 KB file nested
//! 100,000 deep did not parse within a minute), so a file nested deeper than
//! [`MAX_DEPTH`] is refused at once, naming the line. A scenario needs a
//! handful of levels; the count is a cheap over-estimate (flow brackets open,
//! block indentation and `- ` entries on one line), never an under-estimate of
//! what the parser would build. It does not parse YAML (raw does).

/// The deepest nesting a scenario file may have.
pub const MAX_DEPTH: usize = 64;

/// The first line whose nesting goes deeper than [`MAX_DEPTH`], and how deep,
/// or `None`.
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut flow = 0usize;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let rest = &line[indent..];
        // `- - - x`: each entry indicator opens one more level.
        let entries = rest
            .split_inclusive(' ')
            .take_while(|part| *part == "- " || *part == "? ")
            .count();
        let (after, deepest) = flow_after(rest, flow);
        flow = after;
        let depth = indent / 2 + entries + deepest;
        if depth > MAX_DEPTH {
            return Some((i + 1, depth));
        }
    }
    None
}

/// Open flow collections (`[`, `{`) after `line`, starting from `open`, and
/// the most open within it; quoted text and comments are skipped.
fn flow_after(line: &str, mut open: usize) -> (usize, usize) {
    let mut deepest = open;
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if previous == ' ' || previous == '\t' => break,
            (None, '[' | '{') => {
                open += 1;
                deepest = deepest.max(open);
            }
            (None, ']' | '}') => open = open.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    (open, deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_scenarios_are_far_from_the_limit() {
        let yaml = "target: http://x\nscenarios:\n  s:\n    requests:\n      - { name: a, url: '/[x' }\n      - name: b # [[[\n        checks: [{ type: status, status: 200 }]\n";
        assert_eq!(too_deep(yaml), None);
    }

    #[test]
    fn deep_flow_block_and_entry_nesting_is_found_on_its_line() {
        let flow = format!("a: 1\nb: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(too_deep(&flow), Some((2, 100_000)));
        let entries = format!("a:\n{}x\n", "- ".repeat(70));
        assert_eq!(too_deep(&entries).map(|(line, _)| line), Some(2));
        let block: String = (0..70)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        assert_eq!(too_deep(&block).map(|(line, _)| line), Some(66));
    }
}
