//! The template grammar both sides share: `{{name}}` slots in urls, query values,
//! headers and bodies, and the built-in variables `__VU` and `__ITER`.
//!
//! The scenario parser uses [`template_vars`] to check names before anything
//! runs; the worker's flow compiles templates with the same name rule
//! ([`is_name_char`]). Substitution itself is the worker's job, not this module's.

/// k6's `__VU`: the VU's number within its worker (from 1).
pub const VAR_VU: &str = "__VU";
/// k6's `__ITER`: the iteration's number within its VU (from 0).
pub const VAR_ITER: &str = "__ITER";

/// Whether `c` may appear in a variable name.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The variable names referenced by `{{name}}` in `text`, in order (for checks made
/// before a flow is compiled, e.g. by the scenario parser).
pub fn template_vars(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let name = after[..close].trim();
                if !name.is_empty() && name.chars().all(is_name_char) {
                    out.push(name);
                    rest = &after[close + 2..];
                } else {
                    rest = &rest[open + 2..];
                }
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_vars_lists_the_names_used() {
        assert_eq!(template_vars("/a/{{id}}/{{ name }}?x={{}}"), ["id", "name"]);
        assert!(template_vars("{\"a\":{\"b\":1}}").is_empty());
    }
}
