//! The credential engine: an aho-corasick keyword prefilter finds where each detector's literals
//! occur, and the detector's regex runs only on the lines around them; matches then pass the
//! entropy and context gates of [`crate::filters`]. A rule's keyword must therefore occur on
//! the line of its match (or, for multi-line rules, before it).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::catalog::{Check, DETECTORS, DetectorSpec};
use crate::error::ScanError;
use crate::filters;
use crate::finding::Severity;

/// A detector ready to run: a built-in one or a custom rule from `.keyward.toml`.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Rule id.
    pub id: String,
    /// Rule group.
    pub category: String,
    /// Severity (after overrides).
    pub severity: Severity,
    /// One-line description.
    pub title: String,
    /// Lowercase keywords; empty means the regex always runs.
    pub keywords: Vec<String>,
    /// The regex source.
    pub pattern: String,
    /// Minimum entropy of the secret.
    pub min_entropy: f64,
    /// Extra validation.
    pub check: Check,
}

impl From<&DetectorSpec> for Rule {
    fn from(spec: &DetectorSpec) -> Self {
        Rule {
            id: spec.id.to_owned(),
            category: spec.category.to_owned(),
            severity: spec.severity,
            title: spec.title.to_owned(),
            keywords: spec.keywords.iter().map(|k| (*k).to_owned()).collect(),
            pattern: spec.pattern.to_owned(),
            min_entropy: spec.min_entropy,
            check: spec.check,
        }
    }
}

/// The built-in rules.
pub fn builtin_rules() -> Vec<Rule> {
    DETECTORS.iter().map(Rule::from).collect()
}

/// One detector hit inside a text: which rule, where the secret is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`Detectors::rules`].
    pub rule: usize,
    /// Byte range of the secret in the text.
    pub start: usize,
    /// End of the secret (exclusive).
    pub end: usize,
}

/// What a keyword-prefiltered search found.
#[derive(Debug, Default)]
pub struct Found {
    /// Hits that passed the gates.
    pub hits: Vec<Hit>,
    /// Whether a multi-line rule's keyword occurs in the searched text (for a partial search:
    /// may occur anywhere in it). A later version without one needs no look back from its
    /// changes: see [`Detectors::find_changed`].
    pub spanning: bool,
}

/// Compiled detectors.
#[derive(Debug)]
pub struct Detectors {
    rules: Vec<Rule>,
    regexes: Vec<Regex>,
    /// Every rule's keywords.
    all: Prefilter,
    /// Only the multi-line rules' keywords: a partial scan runs them over the whole text.
    spanning: Prefilter,
    always: Vec<usize>,
    multiline: Vec<bool>,
    /// A multi-line rule's keyword holds a line break (only a custom rule can): line-based
    /// reasoning about where such keywords are does not hold, so partial searches always look
    /// back.
    spanning_keyword_crosses_lines: bool,
}

/// A keyword automaton and, for each distinct keyword, the rules waiting for it.
#[derive(Debug)]
struct Prefilter {
    automaton: AhoCorasick,
    owners: Vec<Vec<usize>>,
}

impl Prefilter {
    /// The keywords of the rules `wanted` accepts.
    fn new(rules: &[Rule], wanted: impl Fn(usize) -> bool) -> Result<Self, ScanError> {
        let (keywords, owners) = distinct_keywords(rules, wanted);
        // A DFA costs memory once (a few MiB for ~200 short keywords) and scans about three
        // times faster than the NFA the builder would pick: the prefilter reads every byte.
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&keywords)
            .map_err(|e| ScanError::BadRule("keywords".into(), e.to_string()))?;
        Ok(Self { automaton, owners })
    }
}

impl Detectors {
    /// Compiles `rules`; a bad custom pattern is a configuration error naming its rule.
    pub fn new(rules: Vec<Rule>) -> Result<Self, ScanError> {
        let mut regexes = Vec::with_capacity(rules.len());
        for rule in &rules {
            let regex = Regex::new(&rule.pattern)
                .map_err(|e| ScanError::BadRule(rule.id.clone(), e.to_string()))?;
            regexes.push(regex);
        }
        let always = (0..rules.len())
            .filter(|&i| rules[i].keywords.is_empty())
            .collect();
        let multiline: Vec<bool> = regexes.iter().map(spans_lines).collect();
        let spanning_keyword_crosses_lines = rules
            .iter()
            .zip(&multiline)
            .filter(|(_, multiline)| **multiline)
            .flat_map(|(rule, _)| &rule.keywords)
            .any(|keyword| keyword.contains(['\n', '\r']));
        Ok(Self {
            all: Prefilter::new(&rules, |_| true)?,
            spanning: Prefilter::new(&rules, |i| multiline[i])?,
            rules,
            regexes,
            always,
            multiline,
            spanning_keyword_crosses_lines,
        })
    }

    /// The rules, indexed by [`Hit::rule`].
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every hit in `text` that passes the gates.
    ///
    /// A keyword hit opens a window on its line (and, for multi-line formats such as PEM
    /// blocks, the 64 KiB after it); the rule's regex runs only inside its
    /// merged windows, so a keyword common in a file does not cost a pass over all of it.
    pub fn find(&self, text: &str) -> Found {
        let mut windows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.rules.len()];
        for index in &self.always {
            windows[*index].push((0, text.len()));
        }
        let spanning = self.open_windows(&self.all, text, (0, text.len()), &mut windows);
        Found {
            hits: self.run_windows(text, windows),
            spanning,
        }
    }

    /// The hits a full [`find`](Self::find) would report that can involve the byte ranges
    /// `changed` (whole lines, in order). Every rule's keywords are searched on those lines;
    /// rules without keywords still run over the whole text.
    ///
    /// A single-line rule's window is its keyword's line, so its hits on a line depend on that
    /// line alone: lines seen before (with the same line above, see the scanner) cannot hold
    /// a hit the earlier scan did not report. A multi-line rule's match can reach a changed
    /// line from a keyword on an unchanged line up to a window before it, so when the previous
    /// version held such a keyword (`spanning_before`) those stretches are searched too. When
    /// it held none, no unchanged line holds one either (keywords lie within a line), and the
    /// changed lines are all there is to search.
    pub fn find_changed(
        &self,
        text: &str,
        changed: &[(usize, usize)],
        spanning_before: bool,
    ) -> Found {
        let mut windows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.rules.len()];
        for index in &self.always {
            windows[*index].push((0, text.len()));
        }
        let mut spanning = false;
        for &range in changed {
            spanning |= self.open_windows(&self.all, text, range, &mut windows);
        }
        let look_back = spanning_before || self.spanning_keyword_crosses_lines;
        if look_back {
            // The changed lines themselves were searched above.
            for range in subtract(&reach_back(text, changed), changed) {
                self.open_windows(&self.spanning, text, range, &mut windows);
            }
        }
        Found {
            hits: self.run_windows(text, windows),
            // Only what was searched is known: a version that looked back may still hold a
            // keyword on its unchanged lines.
            spanning: spanning || look_back,
        }
    }

    /// Adds the window of every keyword hit inside `range` to its rules; returns whether a multi-line rule's keyword was among the hits.
    fn open_windows(
        &self,
        prefilter: &Prefilter,
        text: &str,
        range: (usize, usize),
        windows: &mut [Vec<(usize, usize)>],
    ) -> bool {
        let mut spanning = false;
        // Keyword hits come in text order: the line of the previous hit is usually this one's.
        let mut line = (0, 0);
        let (from, to) = range;
        for found in prefilter.automaton.find_overlapping_iter(&text[from..to]) {
            let (start, end) = (from + found.start(), from + found.end());
            if start < line.0 || end > line.1 {
                line = line_around(text, start);
            }
            for &rule in &prefilter.owners[found.pattern().as_usize()] {
                spanning |= self.multiline[rule];
                windows[rule].push(self.window(rule, text, line, end));
            }
        }
        spanning
    }

    fn run_windows(&self, text: &str, windows: Vec<Vec<(usize, usize)>>) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (index, mut spans) in windows.into_iter().enumerate() {
            for (start, end) in merge(&mut spans) {
                self.run(index, text, start, end, &mut hits);
            }
        }
        hits
    }

    /// The text a keyword ending at `end` on `line` can belong to: the line, or more for
    /// multi-line rules.
    fn window(&self, rule: usize, text: &str, line: (usize, usize), end: usize) -> (usize, usize) {
        if !self.multiline[rule] {
            return line;
        }
        let reach = floor_char_boundary(text, end.saturating_add(MULTILINE_WINDOW));
        let line_end =
            memchr::memchr(b'\n', &text.as_bytes()[reach..]).map_or(text.len(), |i| reach + i);
        (line.0, line_end)
    }

    fn run(&self, index: usize, text: &str, from: usize, to: usize, hits: &mut Vec<Hit>) {
        let rule = &self.rules[index];
        let window = &text[from..to];
        let mut at = 0;
        // Each search resumes where the last secret ended, not where its match did: patterns
        // end by consuming the character after the secret (a newline, a comma), and the next
        // value's pattern may need that same character before it (`A_TOKEN=…\nB_TOKEN=…`).
        while let Some(captures) = self.regexes[index].captures_at(window, at) {
            let Some(whole) = captures.get(0) else {
                break;
            };
            let secret = captures.name("s").unwrap_or(whole);
            at = if secret.end() > at {
                secret.end()
            } else {
                next_char_boundary(window, whole.end().max(at + 1))
            };
            let key = captures.name("k").map_or("", |k| k.as_str());
            if passes(rule, key, secret.as_str()) {
                hits.push(Hit {
                    rule: index,
                    start: from + secret.start(),
                    end: from + secret.end(),
                });
            }
            if at >= window.len() {
                break;
            }
        }
    }
}

/// Where a multi-line rule's keyword can sit to reach the `changed` ranges: from a window's
/// length (plus the longest keyword) before each, at a line start, merged. A keyword further
/// back opens a window that ends before the change (changes start at a line start).
fn reach_back(text: &str, changed: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &(start, end) in changed {
        let back = floor_char_boundary(text, start.saturating_sub(MULTILINE_WINDOW + 256));
        let from = line_around(text, back).0;
        match ranges.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(end),
            _ => ranges.push((from, end)),
        }
    }
    ranges
}

/// Whether `regex` can match across a line break: only such a rule's window reaches past its
/// keyword's line. Decided on the parsed pattern: `[^\n]` and `[ \t]` keep a rule on one line
/// while `\s`, `\n` and `(?s).` do not. A boundary character at either end (the
/// `(?:^|[^A-Za-z0-9_-])` around tokens) may be a newline without the match leaving its line:
/// at a window's edge, `^` and `$` match instead.
fn spans_lines(regex: &Regex) -> bool {
    // The pattern compiled already, so it parses; if it somehow did not, assume the worst.
    let Ok(hir) = regex_syntax::parse(regex.as_str()) else {
        return true;
    };
    match hir.kind() {
        HirKind::Concat(parts) => {
            let start = usize::from(parts.first().is_some_and(at_most_one_char));
            let end = parts.len()
                - usize::from(parts.len() > 1 && parts.last().is_some_and(at_most_one_char));
            parts[start..end.max(start)].iter().any(matches_newline)
        }
        _ => matches_newline(&hir),
    }
}

/// Whether `hir` matches one character or none (a boundary).
fn at_most_one_char(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) | HirKind::Class(_) => true,
        HirKind::Literal(literal) => {
            std::str::from_utf8(&literal.0).map_or(literal.0.len() <= 1, |s| s.chars().count() <= 1)
        }
        HirKind::Capture(capture) => at_most_one_char(&capture.sub),
        HirKind::Alternation(parts) => parts.iter().all(at_most_one_char),
        HirKind::Repetition(_) | HirKind::Concat(_) => false,
    }
}

fn matches_newline(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(literal) => literal.0.contains(&b'\n'),
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .any(|range| range.start() <= '\n' && '\n' <= range.end()),
        HirKind::Class(Class::Bytes(class)) => class
            .ranges()
            .iter()
            .any(|range| range.start() <= b'\n' && b'\n' <= range.end()),
        HirKind::Repetition(repetition) => {
            repetition.max != Some(0) && matches_newline(&repetition.sub)
        }
        HirKind::Capture(capture) => matches_newline(&capture.sub),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts.iter().any(matches_newline),
    }
}

/// The parts of the sorted, disjoint `ranges` outside the sorted, disjoint `holes`.
fn subtract(ranges: &[(usize, usize)], holes: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut holes = holes.iter().peekable();
    for &(mut start, end) in ranges {
        while let Some(&&(hole_start, hole_end)) = holes.peek() {
            if hole_start >= end {
                break;
            }
            if hole_start > start {
                parts.push((start, hole_start));
            }
            start = start.max(hole_end);
            if hole_end > end {
                break;
            }
            holes.next();
        }
        if start < end {
            parts.push((start, end));
        }
    }
    parts
}

/// The line (start, end without its newline) holding byte `at`.
fn line_around(text: &str, at: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &bytes[at..]).map_or(text.len(), |i| at + i);
    (start, end)
}

/// Each keyword once (lowercase), with the rules that share it: the prefilter reports a
/// keyword once, whatever the number of rules waiting for it.
fn distinct_keywords(
    rules: &[Rule],
    wanted: impl Fn(usize) -> bool,
) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut keywords: Vec<String> = Vec::new();
    let mut owners: Vec<Vec<usize>> = Vec::new();
    for (index, rule) in rules.iter().enumerate().filter(|(i, _)| wanted(*i)) {
        for keyword in &rule.keywords {
            let keyword = keyword.to_ascii_lowercase();
            match keywords.iter().position(|k| *k == keyword) {
                Some(at) => owners[at].push(index),
                None => {
                    keywords.push(keyword);
                    owners.push(vec![index]);
                }
            }
        }
    }
    (keywords, owners)
}

/// Bytes after a keyword that a multi-line rule (a PEM block) may span.
pub const MULTILINE_WINDOW: usize = 64 * 1024;

/// Sorts and merges overlapping or touching spans.
fn merge(spans: &mut [(usize, usize)]) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for &(start, end) in spans.iter() {
        match merged.last_mut() {
            Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn next_char_boundary(text: &str, mut index: usize) -> usize {
    while index < text.len() && !text.is_char_boundary(index) {
        index += 1;
    }
    index.min(text.len())
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn passes(rule: &Rule, key: &str, secret: &str) -> bool {
    let compact: String = secret.split(['\n', '\r']).collect();
    let compact = compact.replace("\\n", "");
    if filters::entropy(&compact) < rule.min_entropy || filters::is_placeholder(&compact) {
        return false;
    }
    match rule.check {
        Check::None => true,
        Check::Jwt => filters::jwt_ok(secret),
        Check::BasicAuth => filters::basic_auth_ok(secret),
        Check::Generic => filters::generic_ok(key, secret),
        Check::Password => filters::password_ok(secret),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_pattern_compiles_and_has_keywords() {
        let rules = builtin_rules();
        assert!(rules.len() >= 100, "only {} detectors", rules.len());
        for rule in &rules {
            assert!(!rule.keywords.is_empty(), "{} has no keyword", rule.id);
            for keyword in &rule.keywords {
                assert_eq!(keyword, &keyword.to_ascii_lowercase(), "{}", rule.id);
            }
        }
        Detectors::new(rules).expect("compile");
    }

    #[test]
    fn subtract_leaves_what_no_hole_covers() {
        assert_eq!(subtract(&[(0, 10)], &[(2, 4), (6, 10)]), [(0, 2), (4, 6)]);
        assert_eq!(subtract(&[(0, 5), (8, 12)], &[(4, 9)]), [(0, 4), (9, 12)]);
        assert_eq!(subtract(&[(3, 5)], &[]), [(3, 5)]);
        assert_eq!(
            subtract(&[(3, 5)], &[(0, 20)]),
            Vec::<(usize, usize)>::new()
        );
        assert_eq!(
            subtract(&[(0, 4), (6, 9)], &[(1, 2), (7, 8)]),
            [(0, 1), (2, 4), (6, 7), (8, 9)]
        );
    }

    /// A multi-line rule makes every partial scan of a file holding its keyword look back a
    /// window from each change: a pattern that spans lines by accident (a `\s` where `[ \t]`
    /// was meant) costs history scans dearly, so the set is pinned here.
    #[test]
    fn only_block_formats_span_lines() {
        let detectors = Detectors::new(builtin_rules()).expect("compile");
        let spanning: Vec<&str> = detectors
            .rules
            .iter()
            .zip(&detectors.multiline)
            .filter(|(_, multiline)| **multiline)
            .map(|(rule, _)| rule.id.as_str())
            .collect();
        assert_eq!(
            spanning,
            [
                "pem-private-key",
                "openssh-private-key",
                "pgp-private-key",
                "putty-private-key"
            ]
        );
        let spans = |pattern: &str| spans_lines(&Regex::new(pattern).expect("regex"));
        assert!(!spans(r"a[^\n]*b"));
        assert!(!spans(r"a[ \t]+b"));
        assert!(spans(r"a\s+b"));
        assert!(spans(r"(?s)a.b"));
        assert!(!spans(r"a.b"));
        assert!(spans(r"a\nb"));
        assert!(!spans(r"(?:^|[^a-z])tok_[a-z]{8}(?:$|[^a-z])"));
        assert!(spans(r"(?:^|[^a-z])tok_\s[a-z]{8}(?:$|[^a-z])"));
        assert!(spans(r"\n\nkey"));
    }

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<&str> = DETECTORS.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len());
    }

    #[test]
    fn a_bad_custom_pattern_names_its_rule() {
        let mut rule = builtin_rules().remove(0);
        rule.id = "custom-broken".into();
        rule.pattern = "(unclosed".into();
        let error = Detectors::new(vec![rule]).expect_err("must fail");
        assert!(error.to_string().contains("custom-broken"));
    }
}
