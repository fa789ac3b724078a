//! The template grammar both sides share: `{{name}}` slots in urls, query values,
//! headers and bodies, the built-in variables `__VU` and `__ITER`, and k6's
//! `{{__ENV.NAME}}` (a value given to `sls-load run` with `-e NAME=VALUE` or taken
//! from its environment, sent only in the invoke payload's `env`). It also says
//! which header values are credentials, and how they are shown wherever a
//! scenario is stored or printed ([`shown_header_value`]).
//!
//! The scenario parser uses [`template_vars`] and [`env_name`] to check names
//! before anything runs; the worker's flow compiles templates from the same
//! [`pieces`]. Substitution itself is the worker's job, not this module's.

/// k6's `__VU`: the VU's number within its worker (from 1).
pub const VAR_VU: &str = "__VU";
/// k6's `__ITER`: the iteration's number within its VU (from 0).
pub const VAR_ITER: &str = "__ITER";
/// k6's `__ENV.`: `{{__ENV.NAME}}` is the value of `NAME` given to `sls-load run`.
pub const ENV_PREFIX: &str = "__ENV.";
/// What a credential's value is replaced with wherever a scenario is stored or printed.
pub const REDACTED: &str = "<redacted>";

/// Whether `c` may appear in a variable name.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// One piece of a template's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text, sent as written.
    Text(&'a str),
    /// A `{{name}}` slot (the name, trimmed).
    Var(&'a str),
}

/// `text` split into literal text and `{{name}}` slots, in order. Braces that
/// hold no valid name (`{{ }}`, `{{a b}}`, an unclosed `{{`) stay text.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut literal_start = 0;
    let mut pos = 0;
    while let Some(open) = text[pos..].find("{{").map(|o| pos + o) {
        let after = open + 2;
        let var = text[after..].find("}}").and_then(|close| {
            let name = text[after..after + close].trim();
            (!name.is_empty() && name.chars().all(is_name_char)).then_some((name, close))
        });
        match var {
            Some((name, close)) => {
                if open > literal_start {
                    out.push(Piece::Text(&text[literal_start..open]));
                }
                out.push(Piece::Var(name));
                pos = after + close + 2;
                literal_start = pos;
            }
            None => pos = after,
        }
    }
    if text.len() > literal_start {
        out.push(Piece::Text(&text[literal_start..]));
    }
    out
}

/// The variable names referenced by `{{name}}` in `text`, in order (for checks made
/// before a flow is compiled, e.g. by the scenario parser).
pub fn template_vars(text: &str) -> Vec<&str> {
    pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

/// The environment variable a template variable names: `Some("TOKEN")` for
/// `__ENV.TOKEN` (not checked, see [`is_env_name`]); `None` for other variables.
pub fn env_name(var: &str) -> Option<&str> {
    var.strip_prefix(ENV_PREFIX)
}

/// Whether `name` is a usable environment variable name: ASCII letters, digits
/// and `_`, not starting with a digit.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `text` with every `{{__ENV.NAME}}` whose name `env` holds replaced by its
/// value; other slots and unknown names stay as written.
pub fn fill_env(text: &str, env: &std::collections::BTreeMap<String, String>) -> String {
    pieces(text)
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t.to_owned(),
            Piece::Var(v) => match env_name(v).and_then(|name| env.get(name)) {
                Some(value) => value.clone(),
                None => format!("{{{{{v}}}}}"),
            },
        })
        .collect()
}

/// The environment variables `{{__ENV.NAME}}` in `text` refers to, in order.
pub fn env_refs(text: &str) -> impl Iterator<Item = &str> {
    template_vars(text).into_iter().filter_map(env_name)
}

/// For an absolute URL with credentials in it (`http://user:pass@host/`): the
/// URL with them shown as `***` (`http://***@host/`), to name it in a message
/// without repeating them. `None` when it has none. Credentials in URLs are
/// refused wherever a URL is given (target, requests, events): they would be
/// stored in `plan.json` and logged by workers; an `authorization` header is
/// redacted instead.
pub fn url_with_userinfo_hidden(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (_, host) = authority.rsplit_once('@')?;
    Some(format!("{scheme}://***@{host}{tail}"))
}

/// The one-line refusal of a URL with credentials (see
/// [`url_with_userinfo_hidden`]), or `None` when it has none.
pub fn userinfo_refusal(url: &str) -> Option<String> {
    url_with_userinfo_hidden(url).map(|shown| {
        format!(
            "`{shown}`: credentials in a URL (user:password@) are refused; send them in an \
             `authorization` header, e.g. \"Basic {{{{__ENV.CREDENTIALS}}}}\" with -e"
        )
    })
}

/// Whether a header of this name carries a credential: `Authorization`, `Cookie`,
/// `Proxy-Authorization`, or a name containing `token`, `key`, `secret` or
/// `password` (any case).
pub fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "cookie" | "proxy-authorization"
    ) || ["token", "key", "secret", "password"]
        .iter()
        .any(|part| name.contains(part))
}

/// How header `name`'s `value` (as written in the scenario) is shown wherever it
/// is stored or printed: [`REDACTED`] for a credential, unless the value holds no
/// literal secret — only `{{…}}` references (e.g. `{{__ENV.TOKEN}}`, a capture),
/// optionally after a scheme word such as `Bearer` or `Basic`.
pub fn shown_header_value<'a>(name: &str, value: &'a str) -> &'a str {
    if !is_credential_header(name) || only_references(value) {
        value
    } else {
        REDACTED
    }
}

/// Whether `value` is one or more `{{…}}` references with, as its only literal
/// text, whitespace and at most a leading scheme word of ASCII letters.
fn only_references(value: &str) -> bool {
    let parts = pieces(value);
    let has_ref = parts.iter().any(|p| matches!(p, Piece::Var(_)));
    let literal_ok = parts.iter().enumerate().all(|(i, p)| match p {
        Piece::Var(_) => true,
        Piece::Text(t) if i == 0 => {
            let word = t.trim();
            word.chars().all(|c| c.is_ascii_alphabetic())
                && (word.is_empty() || t.ends_with(char::is_whitespace))
        }
        Piece::Text(t) => t.trim().is_empty(),
    });
    has_ref && literal_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_slots_are_filled_and_the_others_kept() {
        let env = std::collections::BTreeMap::from([("T".to_owned(), "v1".to_owned())]);
        assert_eq!(
            fill_env("/x?t={{__ENV.T}}&u={{ __ENV.U }}&i={{__VU}}", &env),
            "/x?t=v1&u={{__ENV.U}}&i={{__VU}}"
        );
    }

    #[test]
    fn credentials_in_a_url_are_hidden_when_it_is_named() {
        assert_eq!(
            url_with_userinfo_hidden("http://admin:PASS@host:8080/x?y=1").as_deref(),
            Some("http://***@host:8080/x?y=1")
        );
        assert_eq!(url_with_userinfo_hidden("http://host/a@b"), None);
        assert_eq!(url_with_userinfo_hidden("/path@x"), None);
        let refusal = userinfo_refusal("https://u:p@h").unwrap();
        assert!(
            refusal.starts_with("`https://***@h`: credentials"),
            "{refusal}"
        );
        assert!(!refusal.contains("u:p"), "{refusal}");
    }

    #[test]
    fn template_vars_lists_the_names_used() {
        assert_eq!(template_vars("/a/{{id}}/{{ name }}?x={{}}"), ["id", "name"]);
        assert!(template_vars("{\"a\":{\"b\":1}}").is_empty());
    }

    #[test]
    fn pieces_keep_braces_that_are_no_template_as_text() {
        assert_eq!(
            pieces("a{{ x }}b{{ }}{{y}}"),
            [
                Piece::Text("a"),
                Piece::Var("x"),
                Piece::Text("b{{ }}"),
                Piece::Var("y")
            ]
        );
        assert_eq!(
            pieces("{{ }} {{a b}} {{x"),
            [Piece::Text("{{ }} {{a b}} {{x")]
        );
        assert!(pieces("").is_empty());
    }

    #[test]
    fn env_references_name_an_environment_variable() {
        assert_eq!(
            env_refs("Bearer {{__ENV.TOKEN}} {{id}} {{ __ENV.B_2 }}").collect::<Vec<_>>(),
            ["TOKEN", "B_2"]
        );
        assert_eq!(env_name("__ENV.X"), Some("X"));
        assert_eq!(env_name("__VU"), None);
        assert!(is_env_name("TOKEN") && is_env_name("_a1"));
        for bad in ["", "1A", "a-b", "a.b", "A B"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn credential_headers_are_recognised_by_name() {
        for name in [
            "Authorization",
            "cookie",
            "Proxy-Authorization",
            "X-Api-Key",
            "x-auth-token",
            "X-SECRET",
            "db-password",
        ] {
            assert!(is_credential_header(name), "{name}");
        }
        for name in ["accept", "content-type", "x-run", "host"] {
            assert!(!is_credential_header(name), "{name}");
        }
    }

    #[test]
    fn credential_values_are_redacted_unless_they_are_only_references() {
        assert_eq!(shown_header_value("Authorization", "Bearer abc"), REDACTED);
        assert_eq!(shown_header_value("x-api-key", "k-123"), REDACTED);
        assert_eq!(shown_header_value("cookie", "s={{__ENV.S}}"), REDACTED);
        assert_eq!(
            shown_header_value("authorization", "Bearer abc{{__ENV.T}}"),
            REDACTED
        );
        assert_eq!(
            shown_header_value("authorization", "Bearer {{__ENV.TOKEN}}"),
            "Bearer {{__ENV.TOKEN}}"
        );
        assert_eq!(shown_header_value("x-token", "{{__ENV.T}}"), "{{__ENV.T}}");
        assert_eq!(
            shown_header_value("authorization", "Bearer {{token}}"),
            "Bearer {{token}}"
        );
        assert_eq!(shown_header_value("accept", "text/plain"), "text/plain");
        assert_eq!(shown_header_value("authorization", "Bearer"), REDACTED);
    }
}
