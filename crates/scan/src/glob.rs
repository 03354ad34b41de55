//! Path globs for allowlists and bundle patterns: `*` (within a segment), `**` (any depth) and
//! `?`. A pattern without `/` matches the file name at any depth, as in `.gitignore`.

use regex::Regex;

/// A compiled glob.
#[derive(Clone, Debug)]
pub struct Glob {
    source: String,
    regex: Regex,
}

impl Glob {
    /// Compiles `pattern`; `None` only if the translation is not a valid regex (it always is).
    pub fn new(pattern: &str) -> Option<Glob> {
        let anchored = pattern.contains('/');
        let body = translate(pattern.trim_start_matches('/'));
        let full = if anchored {
            format!("^{body}$")
        } else {
            format!("(?:^|/){body}$")
        };
        Regex::new(&full).ok().map(|regex| Glob {
            source: pattern.to_owned(),
            regex,
        })
    }

    /// Whether the `/`-separated relative `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

fn translate(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    out.push_str("(?:.*/)?");
                } else {
                    out.push_str(".*");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> Glob {
        Glob::new(p).expect("valid glob")
    }

    #[test]
    fn globs_match_like_gitignore() {
        assert!(glob("*.md").matches("docs/readme.md"));
        assert!(!glob("*.md").matches("docs/readme.mdx"));
        assert!(glob("testdata/**").matches("testdata/a/b.txt"));
        assert!(!glob("testdata/**").matches("src/testdata/a"));
        assert!(glob("**/fixtures/*.env").matches("a/b/fixtures/x.env"));
        assert!(glob("**/fixtures/*.env").matches("fixtures/x.env"));
        assert!(!glob("src/*.rs").matches("src/a/b.rs"));
    }
}
