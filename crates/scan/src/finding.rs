//! [`Finding`]: what a scan reports, carrying a redacted preview and a keyed fingerprint but
//! never the secret itself.

use serde::Serialize;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Probably a credential or a policy breach.
    Medium,
    /// A credential with real reach.
    High,
    /// A credential that opens production (cloud keys, private keys).
    Critical,
}

impl Severity {
    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lowercase name.
    pub fn parse(name: &str) -> Option<Severity> {
        match name.to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What a finding may show of its secret: at most four leading characters and the length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// The first characters (four, fewer for short values: never more than a third).
    pub prefix: String,
    /// The length of the whole value in characters.
    pub length: usize,
}

impl Preview {
    /// The preview of `secret`.
    pub fn of(secret: &str) -> Preview {
        let length = secret.chars().count();
        let shown = 4.min(length / 3);
        Preview {
            prefix: secret.chars().take(shown).collect(),
            length,
        }
    }
}

impl std::fmt::Display for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}… ({} chars)", self.prefix, self.length)
    }
}

/// Where a finding is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Path relative to the scanned root (or repository), `/`-separated.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// The commit that first introduced the content (history scans only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The blob's object id (git sources only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

/// One thing the scan found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule id (`github-pat`, `policy/k8s-secret`, …).
    pub rule: String,
    /// Rule group (`azure`, `policy`, …).
    pub category: String,
    /// Severity after `.keyward.toml` overrides.
    pub severity: Severity,
    /// The rule's one-line description.
    pub title: String,
    /// Where.
    pub location: Location,
    /// What can be shown of the value, if the finding is about a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
    /// Keyed fingerprint of rule and value (`kw1:…`), used by ignores and baselines.
    pub fingerprint: String,
    /// How the value was wrapped when it was found inside decoded content (`base64`, `hex`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded_from: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_show_at_most_four_chars_and_a_third() {
        assert_eq!(Preview::of("abcdefghijklmnop").prefix, "abcd");
        assert_eq!(Preview::of("abcdefghijklmnop").length, 16);
        assert_eq!(Preview::of("abcdef").prefix, "ab");
        assert_eq!(Preview::of("ab").prefix, "");
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::Low);
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("urgent"), None);
    }
}
