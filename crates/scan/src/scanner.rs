//! [`Scanner`]: one file's content in, findings out. Runs the policies, the detectors on the
//! text and on decoded base64/hex runs (to [`MAX_DEPTH`]), honours path allowlists and inline
//! `keyward:allow RULE` comments, and turns each hit into a [`Finding`] that carries only a
//! preview and a keyed fingerprint.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::io::Read;

use crate::config::Config;
use crate::decode::decode_runs;
use crate::detect::{Detectors, Rule, builtin_rules};
use crate::error::ScanError;
use crate::finding::{Finding, Location, Preview, Severity};
use crate::fingerprint::FingerprintKey;
use crate::pieces::{MAX_TEXT, Pieces};
use crate::policy::{self, PolicyHit};

/// How many times wrapped values are unwrapped (base64 inside base64 is depth 2).
pub const MAX_DEPTH: usize = 2;

/// Bytes inspected for a NUL to call a file binary.
const BINARY_PROBE: usize = 8000;

/// The comment marker that allows a finding on its line or the line below.
pub const ALLOW_MARKER: &str = "keyward:allow";

/// Scans content with one configuration and one fingerprint key.
#[derive(Debug)]
pub struct Scanner {
    detectors: Detectors,
    config: Config,
    key: FingerprintKey,
    /// Seeds the line hashes that tell changed lines from seen ones: random per process, so
    /// no content can be written to collide with a line of an earlier version.
    line_hasher: foldhash::quality::RandomState,
}

/// A detector hit resolved to the outermost text.
struct Raw {
    rule: usize,
    line: usize,
    secret: String,
    encoding: Option<&'static str>,
}

impl Scanner {
    /// Compiles the built-in and custom rules minus the disabled ones.
    pub fn new(config: Config, key: FingerprintKey) -> Result<Self, ScanError> {
        let mut rules: Vec<Rule> = builtin_rules();
        rules.extend(config.rules.iter().cloned());
        rules.retain(|rule| !config.disable.contains(&rule.id));
        for rule in &mut rules {
            if let Some(level) = config.severity.get(&rule.id) {
                rule.severity = *level;
            }
        }
        Ok(Self {
            detectors: Detectors::new(rules)?,
            config,
            key,
            line_hasher: foldhash::quality::RandomState::default(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The active detector rules.
    pub fn rules(&self) -> &[Rule] {
        self.detectors.rules()
    }

    /// Every finding in the file at `path` (relative, `/`-separated) holding `bytes`.
    pub fn scan(&self, path: &str, bytes: &[u8]) -> Vec<Finding> {
        self.scan_version(path, bytes, None).0
    }

    /// Scans a new version of the file at `path` whose previous version at the same path was
    /// scanned (by this method) and left `previous`. Only lines that are new, or follow a
    /// different line than before, go through the single-line detectors: the findings on the
    /// other lines were reported for the previous version. Returns the findings that a full
    /// [`scan`](Self::scan) reports and the earlier scan did not, plus what to pass for the
    /// next version (`None` when the next version must be scanned in full).
    pub fn scan_version(
        &self,
        path: &str,
        bytes: &[u8],
        previous: Option<&Lines>,
    ) -> (Vec<Finding>, Option<Lines>) {
        if self.config.path_allowed(path) || is_binary(bytes) {
            return (Vec::new(), None);
        }
        if bytes.len() > MAX_TEXT {
            let mut reader = bytes;
            // Reading from memory cannot fail.
            let findings = self.scan_pieces(path, &mut reader).unwrap_or_default();
            return (findings, None);
        }
        self.scan_text(path, bytes, previous)
    }

    /// Scans content of any size from `reader` in overlapping pieces of bounded size (see
    /// [`crate::pieces`]); findings carry their line in the whole content.
    pub fn scan_reader(&self, path: &str, reader: &mut dyn Read) -> std::io::Result<Vec<Finding>> {
        if self.config.path_allowed(path) {
            return Ok(Vec::new());
        }
        self.scan_pieces(path, reader)
    }

    fn scan_pieces(&self, path: &str, reader: &mut dyn Read) -> std::io::Result<Vec<Finding>> {
        let mut pieces = Pieces::new(reader);
        let mut findings = Vec::new();
        let mut seen = HashSet::new();
        while let Some(piece) = pieces.next_piece()? {
            if !piece.continued && is_binary(piece.bytes) {
                return Ok(Vec::new());
            }
            for mut finding in self.scan_text(path, piece.bytes, None).0 {
                // A continued piece's first line was scanned by the piece before, which also
                // saw the line above it (a `keyward:allow` comment).
                if piece.continued && finding.location.line == 1 {
                    continue;
                }
                finding.location.line += piece.first_line - 1;
                // The overlap is scanned twice; a policy breach without a value (an env file)
                // is one per file.
                let line = finding
                    .preview
                    .as_ref()
                    .map_or(0, |_| finding.location.line);
                if seen.insert((finding.rule.clone(), finding.fingerprint.clone(), line)) {
                    findings.push(finding);
                }
            }
        }
        findings.sort_by(|a, b| (a.location.line, &a.rule).cmp(&(b.location.line, &b.rule)));
        Ok(findings)
    }

    /// [`scan_version`](Self::scan_version) of a text of at most [`MAX_TEXT`] bytes.
    fn scan_text(
        &self,
        path: &str,
        bytes: &[u8],
        previous: Option<&Lines>,
    ) -> (Vec<Finding>, Option<Lines>) {
        // Strict validation has an ASCII fast path the lossy one lacks; almost every blob is
        // valid UTF-8.
        let text = std::str::from_utf8(bytes).map_or_else(
            |_| String::from_utf8_lossy(bytes),
            std::borrow::Cow::Borrowed,
        );
        let lines = LineIndex::new(&text);
        let mut findings = Vec::new();
        for hit in policy::check(path, &text, &self.config.bundle_globs) {
            if let Some(finding) = self.policy_finding(path, &hit) {
                findings.push(finding);
            }
        }
        // Policy hits depend on the whole file (and hide generic hits on their lines), so a
        // file with any, before or now, is scanned in full.
        let ordered = findings
            .is_empty()
            .then(|| line_pairs(&self.line_hasher, &text, &lines));
        // When most of the file changed, the partial scan's second keyword pass (multi-line
        // rules over the whole text) costs more than the lines it skips.
        let changed = match (previous, &ordered) {
            (Some(previous), Some(ordered)) => Some(previous.changed(ordered, &lines))
                .filter(|ranges| ranges.iter().map(|(s, e)| e - s).sum::<usize>() * 2 < text.len()),
            _ => None,
        };
        let mut raws = Vec::new();
        let spanning = match (changed, previous) {
            (Some(changed), Some(previous)) => {
                self.detect_changed(&text, &changed, previous.spanning, &lines, &mut raws)
            }
            _ => self.detect(&text, 0, None, &lines, &mut raws),
        };
        let current = ordered.map(|ordered| Lines::of(ordered, spanning));
        let policy_lines = findings
            .iter()
            .filter(|f| f.preview.is_some())
            .map(|f| f.location.line);
        self.drop_generic_duplicates(&mut raws, policy_lines.collect());
        for raw in raws {
            findings.push(self.detector_finding(path, raw));
        }
        findings.retain(|f| !allowed_inline(&lines, &text, f.location.line, &f.rule));
        findings.sort_by(|a, b| (a.location.line, &a.rule).cmp(&(b.location.line, &b.rule)));
        findings.dedup_by(|a, b| a.rule == b.rule && a.fingerprint == b.fingerprint);
        (findings, current)
    }

    /// [`detect`](Self::detect) limited to what can be new on the `changed` lines; returns
    /// whether the text may hold a multi-line rule's keyword.
    fn detect_changed(
        &self,
        text: &str,
        changed: &[(usize, usize)],
        spanning_before: bool,
        lines: &LineIndex,
        out: &mut Vec<Raw>,
    ) -> bool {
        let found = self.detectors.find_changed(text, changed, spanning_before);
        for hit in found.hits {
            out.push(Raw {
                rule: hit.rule,
                line: lines.line_of(hit.start),
                secret: text[hit.start..hit.end].to_owned(),
                encoding: None,
            });
        }
        // Encoded runs stop at a newline: each lies inside one line.
        for &(from, to) in changed {
            for decoded in decode_runs(&text[from..to]) {
                let outer = (from + decoded.offset, decoded.encoding);
                self.detect(&decoded.text, 1, Some(outer), lines, out);
            }
        }
        found.spanning
    }

    /// Runs the detectors on `text` and on what decodes from it; returns whether `text`
    /// holds a multi-line rule's keyword.
    fn detect(
        &self,
        text: &str,
        depth: usize,
        anchor: Option<(usize, &'static str)>,
        lines: &LineIndex,
        out: &mut Vec<Raw>,
    ) -> bool {
        let found = self.detectors.find(text);
        for hit in found.hits {
            let offset = anchor.map_or(hit.start, |(offset, _)| offset);
            out.push(Raw {
                rule: hit.rule,
                line: lines.line_of(offset),
                secret: text[hit.start..hit.end].to_owned(),
                encoding: anchor.map(|(_, encoding)| encoding),
            });
        }
        if depth < MAX_DEPTH {
            for decoded in decode_runs(text) {
                let outer = anchor.map_or((decoded.offset, decoded.encoding), |a| a);
                self.detect(&decoded.text, depth + 1, Some(outer), lines, out);
            }
        }
        found.spanning
    }

    /// A generic hit on a line where a specific detector or a policy also reported a value
    /// shows the same value twice; the specific finding is kept.
    fn drop_generic_duplicates(&self, raws: &mut Vec<Raw>, mut specific_lines: HashSet<usize>) {
        let rules = self.detectors.rules();
        let generic = |raw: &Raw| rules[raw.rule].check == crate::catalog::Check::Generic;
        specific_lines.extend(raws.iter().filter(|r| !generic(r)).map(|r| r.line));
        raws.retain(|r| !generic(r) || !specific_lines.contains(&r.line));
        // Two specific detectors on the same value: the earlier (more specific) rule wins.
        raws.sort_by(|a, b| (a.line, &a.secret, a.rule).cmp(&(b.line, &b.secret, b.rule)));
        raws.dedup_by(|later, first| later.line == first.line && later.secret == first.secret);
        // A value found inside a longer value on the same line (a URL's password inside a
        // detector's `user:password`) is the same finding.
        let inner: HashSet<usize> = (0..raws.len())
            .filter(|&i| {
                raws.iter().any(|o| {
                    o.line == raws[i].line
                        && o.secret.len() > raws[i].secret.len()
                        && o.secret.contains(raws[i].secret.as_str())
                })
            })
            .collect();
        let mut index = 0;
        raws.retain(|_| {
            index += 1;
            !inner.contains(&(index - 1))
        });
    }

    fn detector_finding(&self, path: &str, raw: Raw) -> Finding {
        let rule = &self.detectors.rules()[raw.rule];
        Finding {
            rule: rule.id.clone(),
            category: rule.category.clone(),
            severity: rule.severity,
            title: rule.title.clone(),
            location: location(path, raw.line),
            preview: Some(Preview::of(&raw.secret)),
            fingerprint: self.key.fingerprint(&rule.id, raw.secret.as_bytes()),
            decoded_from: raw.encoding.map(str::to_owned),
        }
    }

    fn policy_finding(&self, path: &str, hit: &PolicyHit) -> Option<Finding> {
        let id = hit.rule.id;
        if self.config.disable.iter().any(|d| d == id) {
            return None;
        }
        let (preview, fingerprint) = match &hit.value {
            Some(value) => (
                value.expose_str().ok().map(Preview::of),
                self.key.fingerprint(id, value.expose_bytes()),
            ),
            None => (None, self.key.fingerprint(id, path.as_bytes())),
        };
        Some(Finding {
            rule: id.to_owned(),
            category: "policy".to_owned(),
            severity: self.severity(id, hit.rule.severity),
            title: hit.rule.title.to_owned(),
            location: location(path, hit.line),
            preview,
            fingerprint,
            decoded_from: None,
        })
    }

    fn severity(&self, id: &str, default: Severity) -> Severity {
        self.config.severity.get(id).copied().unwrap_or(default)
    }
}

fn location(path: &str, line: usize) -> Location {
    Location {
        path: path.to_owned(),
        line,
        commit: None,
        blob: None,
    }
}

fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_PROBE)].contains(&0)
}

/// Whether line `line` or the line above carries `keyward:allow` naming `rule`.
fn allowed_inline(lines: &LineIndex, text: &str, line: usize, rule: &str) -> bool {
    [line, line.saturating_sub(1)]
        .into_iter()
        .filter(|&l| l >= 1)
        .any(|l| allow_names(lines.text_of(text, l), rule))
}

fn allow_names(line: &str, rule: &str) -> bool {
    line.match_indices(ALLOW_MARKER).any(|(at, _)| {
        line[at + ALLOW_MARKER.len()..]
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|token| !token.is_empty())
            .any(|token| token == rule)
    })
}

/// A scanned version's lines, each hashed with the line above it: a line whose pair is in
/// the previous version's set has the same single-line hits and the same `keyward:allow`
/// context as there.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    pairs: HashSet<u64, BuildHasherDefault<PairHasher>>,
    /// Whether the version may hold a multi-line rule's keyword.
    spanning: bool,
}

impl Lines {
    fn of(ordered: Vec<u64>, spanning: bool) -> Self {
        let mut pairs = HashSet::with_capacity_and_hasher(ordered.len(), Default::default());
        pairs.extend(ordered);
        Self { pairs, spanning }
    }

    /// How many hashes this holds (a cache's measure of its size).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Byte ranges (whole lines, merged when adjacent) of the text whose line pairs, in
    /// order, are `ordered` and are not in `self`.
    fn changed(&self, ordered: &[u64], lines: &LineIndex) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (index, pair) in ordered.iter().enumerate() {
            if self.pairs.contains(pair) {
                continue;
            }
            let (start, end) = lines.span(index);
            match ranges.last_mut() {
                Some(last) if last.1 >= start => last.1 = end,
                _ => ranges.push((start, end)),
            }
        }
        ranges
    }
}

/// Line pairs are hashes already: the set uses them as they are.
#[derive(Clone, Copy, Debug, Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Each line's hash mixed with the hash of the line above. A collision would hide a changed
/// line, so the hash is a seeded one of full 64-bit quality (foldhash's quality variant,
/// several times faster than SipHash on short lines).
fn line_pairs(hasher: &foldhash::quality::RandomState, text: &str, lines: &LineIndex) -> Vec<u64> {
    let bytes = text.as_bytes();
    let mut above = 0u64;
    (0..lines.starts.len())
        .map(|index| {
            let (start, end) = lines.span(index);
            let line = &bytes[start..end];
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let own = hasher.hash_one(line);
            let pair = own ^ above.rotate_left(23).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            above = own;
            pair
        })
        .collect()
}

/// Byte offsets of line starts, for offset → line lookups.
struct LineIndex {
    starts: Vec<usize>,
    end: usize,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        // Most source lines are under 64 bytes: one allocation covers them.
        let mut starts = Vec::with_capacity(text.len() / 48 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Self {
            starts,
            end: text.len(),
        }
    }

    /// Byte range of 0-based line `index`, its newline included.
    fn span(&self, index: usize) -> (usize, usize) {
        let start = self.starts.get(index).copied().unwrap_or(self.end);
        let end = self.starts.get(index + 1).copied().unwrap_or(self.end);
        (start, end)
    }

    /// 1-based line of a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    /// The text of 1-based `line`.
    fn text_of<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.starts.get(line - 1).copied().unwrap_or(text.len());
        let end = self.starts.get(line).copied().unwrap_or(text.len());
        text.get(start..end).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::expand;

    fn scanner(config: &str) -> Scanner {
        let config = Config::parse(config).expect("config");
        Scanner::new(config, FingerprintKey::from_bytes(b"test-key-0123456789")).expect("scanner")
    }

    #[test]
    fn a_token_is_found_with_line_preview_and_fingerprint() {
        let text = expand("t1", "# config\nGITHUB_TOKEN=gh{x}p_{an:36}\n").replace("{x}", "");
        let findings = scanner("").scan("ci/env.sh", text.as_bytes());
        let finding = findings
            .iter()
            .find(|f| f.rule == "github-pat")
            .expect("found");
        assert_eq!(finding.location.line, 2);
        let preview = finding.preview.as_ref().expect("preview");
        assert_eq!((preview.prefix.as_str(), preview.length), ("ghp_", 40));
        assert!(finding.fingerprint.starts_with("kw1:"));
    }

    #[test]
    fn base64_wrapped_tokens_are_found_and_marked() {
        use base64::Engine;
        let token = expand("t2", "npm_{an:36}");
        let wrapped = base64::engine::general_purpose::STANDARD.encode(format!("token={token}"));
        let text = format!("a: 1\nblob: {wrapped}\n");
        let findings = scanner("").scan("x.yaml", text.as_bytes());
        let finding = findings
            .iter()
            .find(|f| f.rule == "npm-access-token")
            .expect("found");
        assert_eq!(finding.decoded_from.as_deref(), Some("base64"));
        assert_eq!(finding.location.line, 2);
    }

    #[test]
    fn inline_allow_names_the_rule() {
        let token = expand("t3", "npm_{an:36}");
        let allowed = format!("NPM={token} # keyward:allow npm-access-token\n");
        assert!(scanner("").scan("a.sh", allowed.as_bytes()).is_empty());
        let above = format!("# keyward:allow npm-access-token\nNPM={token}\n");
        assert!(scanner("").scan("a.sh", above.as_bytes()).is_empty());
        let other = format!("NPM={token} # keyward:allow jwt\n");
        assert_eq!(scanner("").scan("a.sh", other.as_bytes()).len(), 1);
    }

    #[test]
    fn allowlisted_paths_disabled_rules_and_severity_overrides_apply() {
        let token = expand("t4", "NPM=npm_{an:36}\n");
        let s = scanner("[scan]\nallow_paths = [\"fixtures/**\"]\n");
        assert!(s.scan("fixtures/a.sh", token.as_bytes()).is_empty());
        let s = scanner("[scan]\ndisable = [\"npm-access-token\"]\n");
        assert!(s.scan("a.sh", token.as_bytes()).is_empty());
        let s = scanner("[scan.severity]\nnpm-access-token = \"low\"\n");
        assert_eq!(s.scan("a.sh", token.as_bytes())[0].severity, Severity::Low);
    }

    #[test]
    fn custom_rules_run() {
        let s = scanner(
            "[[scan.rules]]\nid = \"acme\"\npattern = 'acme_[a-z0-9]{12}'\nkeywords = [\"acme_\"]\n",
        );
        let findings = s.scan("a.txt", b"x = acme_q8zr2lmx9vtb\n");
        assert_eq!(findings[0].rule, "acme");
        assert_eq!(findings[0].category, "custom");
    }

    #[test]
    fn comma_joined_flyio_tokens_are_two_findings() {
        let text = expand(
            "fly",
            "FLY_API_TOKEN=\"FlyV1 fm1r_{b64:120},fm1a_{b64:130}\"\n",
        );
        let found = scanner("").scan("fly.env.md", text.as_bytes());
        let fly: Vec<_> = found
            .iter()
            .filter(|f| f.rule == "flyio-macaroon-token")
            .collect();
        assert_eq!(fly.len(), 2, "{found:?}");
    }

    /// The lines a random edit history draws from: values of single-line and multi-line
    /// rules, a base64-wrapped token, allow comments and filler.
    fn edit_pool() -> Vec<String> {
        use base64::Engine;
        let wrapped = base64::engine::general_purpose::STANDARD
            .encode(format!("token={}", expand("pool-w", "npm_{an:36}")));
        let mut pool = vec![
            "x = 1".to_owned(),
            "echo building".to_owned(),
            "# keyward:allow npm-access-token".to_owned(),
            "# keyward:allow pem-private-key".to_owned(),
            "-----BEGIN RSA PRIVATE KEY-----".to_owned(),
            "-----END RSA PRIVATE KEY-----".to_owned(),
            format!("blob: {wrapped}"),
        ];
        for i in 0..3 {
            pool.push(expand(&format!("pool-n{i}"), "NPM=npm_{an:36}"));
            pool.push(expand(&format!("pool-g{i}"), "GITHUB_TOKEN=ghp_{an:36}"));
            pool.push(expand(&format!("pool-p{i}"), "db_password = \"{an:20}\""));
        }
        for i in 0..6 {
            pool.push(expand(&format!("pool-b{i}"), "{b64:64}"));
            pool.push(format!("filler line {i}"));
        }
        pool
    }

    /// Minimal xorshift: deterministic edits without a test dependency.
    struct Edits(u64);

    impl Edits {
        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound as u64) as usize
        }
    }

    /// What scan_version promises, value by value (rule and fingerprint: a value twice in a
    /// file is reported once): each version's full-scan values were reported either by its
    /// partial scan or by the full scan of the version before, and the partial scan reports
    /// no value a full scan does not. Random edits (insert, delete, replace a line)
    /// over PEM blocks, wrapped tokens and allow comments, most of them small enough for a
    /// partial scan.
    #[test]
    fn partial_scans_of_random_edits_report_what_full_scans_report() {
        let scanner = scanner("");
        let pool = edit_pool();
        let mut edits = Edits(0x2545_f491_4f6c_dd1d);
        let key = |f: &Finding| (f.rule.clone(), f.fingerprint.clone());
        let mut partial_scans = 0;
        for history in 0..300 {
            let mut lines: Vec<&str> = (0..10 + edits.below(40))
                .map(|_| pool[edits.below(pool.len())].as_str())
                .collect();
            let mut previous: Option<Lines> = None;
            let mut before: HashSet<(String, String)> = HashSet::new();
            for version in 0..20 {
                for _ in 0..1 + edits.below(3) {
                    let at = edits.below(lines.len() + 1);
                    let line = pool[edits.below(pool.len())].as_str();
                    match edits.below(3) {
                        0 => lines.insert(at, line),
                        1 if at < lines.len() && lines.len() > 2 => drop(lines.remove(at)),
                        _ if at < lines.len() => lines[at] = line,
                        _ => lines.push(line),
                    }
                }
                let text = lines.join("\n") + "\n";
                let full = scanner.scan("deploy/f.sh", text.as_bytes());
                let (partial, next) =
                    scanner.scan_version("deploy/f.sh", text.as_bytes(), previous.as_ref());
                let full_keys: HashSet<_> = full.iter().map(key).collect();
                let partial_keys: HashSet<_> = partial.iter().map(key).collect();
                for finding in &partial {
                    assert!(
                        full_keys.contains(&key(finding)),
                        "history {history} version {version}: partial-only {finding:?} in\n{text}"
                    );
                }
                for finding in &full {
                    assert!(
                        partial_keys.contains(&key(finding)) || before.contains(&key(finding)),
                        "history {history} version {version}: missed {} on line {}",
                        finding.rule,
                        finding.location.line
                    );
                }
                partial_scans += usize::from(previous.is_some() && partial.len() < full.len());
                before = full_keys;
                previous = next;
            }
        }
        // The property says nothing if every version was scanned in full.
        assert!(partial_scans > 500, "only {partial_scans} partial scans");
    }

    /// A pattern ends by consuming the character after its value; the next value on the line
    /// below (or after a comma) needs that character before it.
    #[test]
    fn values_on_consecutive_lines_are_each_found() {
        let text = expand(
            "consecutive",
            "API_TOKEN=\"{an:24}\"\ndb_password = \"{an:20}\"\nNPM=npm_{an:36},npm_{an:36}\n",
        );
        let found = scanner("").scan("deploy/app.sh", text.as_bytes());
        let at: Vec<(&str, usize)> = found
            .iter()
            .map(|f| (f.rule.as_str(), f.location.line))
            .collect();
        assert_eq!(
            at,
            [
                ("generic-secret-assignment", 1),
                ("generic-secret-assignment", 2),
                ("npm-access-token", 3),
                ("npm-access-token", 3)
            ],
            "{found:?}"
        );
    }

    #[test]
    fn binary_content_is_skipped() {
        let mut bytes = expand("t5", "npm_{an:36}").into_bytes();
        bytes.push(0);
        assert!(scanner("").scan("a.bin", &bytes).is_empty());
    }
}
