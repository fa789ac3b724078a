//! What a k6 script's run adds to the terminal summary: its custom metrics as
//! k6 prints them (`errors .........: 0.00% 0 out of 6,699`, a counter's
//! total and rate, a trend's aggregates) and the exceptions that ended
//! iterations, one line per message with how often it was thrown.
//!
//! It formats the summary's figures only; it computes nothing.

use std::fmt::Write as _;

use crate::readable::{decimal, thousands};
use crate::summary::Summary;

/// The custom metrics, one line each, when the run has any.
pub fn metrics(out: &mut String, s: &Summary) {
    for (name, m) in &s.metrics {
        let unit = if m.contains == "time" { "ms" } else { "" };
        let line = match m.kind.as_str() {
            "counter" => format!(
                "{} {}/s",
                thousands(m.count.unwrap_or(0)),
                decimal(m.rate.unwrap_or(0.0), 1)
            ),
            "rate" => {
                let (yes, no) = (m.count.unwrap_or(0), m.fails.unwrap_or(0));
                format!(
                    "{:.2}% {} out of {}",
                    m.rate.unwrap_or(0.0) * 100.0,
                    thousands(yes),
                    thousands(yes + no)
                )
            }
            "gauge" => format!("{}{unit}", decimal(m.value.unwrap_or(0.0), 3)),
            _ => m
                .values
                .iter()
                .map(|(k, v)| format!("{k}={}{unit}", decimal(*v, 3)))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let dots = ".".repeat(15usize.saturating_sub(name.chars().count()).max(1));
        let _ = writeln!(out, "  {name} {dots}: {line}");
    }
}

/// The exceptions that ended iterations, most frequent first.
pub fn exceptions(out: &mut String, s: &Summary) {
    if s.exceptions.is_empty() {
        return;
    }
    let mut all: Vec<(&String, &u64)> = s.exceptions.iter().collect();
    all.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let total: u64 = all.iter().map(|(_, n)| **n).sum();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  exceptions ({} iterations ended by one):",
        thousands(total)
    );
    for (message, n) in all {
        let _ = writeln!(out, "    {}× {message}", thousands(*n));
    }
}
