//! Precision and recall of `keyward scan` on the GitOps precision corpus (`corpus/gitops.rs`,
//! issue 13 item 4): references, Secret names and example files must stay quiet, the real
//! credentials committed among them must all be found.
//!
//! Run with `cargo test -p keyward-scan --test integration gitops_precision -- --nocapture` for the
//! figures; `scripts/bench-scan-precision` compares them with gitleaks and Kingfisher.

use crate::gitops;

use std::collections::BTreeSet;

use keyward_scan::{Config, FingerprintKey, Scanner};

#[test]
fn gitops_corpus_precision_and_recall() {
    let scanner = Scanner::new(Config::default(), FingerprintKey::from_bytes(b"gitops-key"))
        .expect("scanner");
    let (mut tp, mut fp, mut missed) = (0usize, 0usize, 0usize);
    let mut errors = Vec::new();
    for case in gitops::cases() {
        let findings = scanner.scan(case.path, case.text.as_bytes());
        let lines: BTreeSet<usize> = findings.iter().map(|f| f.location.line).collect();
        let in_span =
            |line: usize, &(first, last): &(usize, usize)| line + 1 >= first && line <= last;
        for span in &case.secrets {
            if lines.iter().any(|&line| in_span(line, span)) {
                tp += 1;
            } else {
                missed += 1;
                errors.push(format!("missed the secret at {}:{}", case.path, span.0));
            }
        }
        for finding in &findings {
            let line = finding.location.line;
            if !case.secrets.iter().any(|span| in_span(line, span)) {
                fp += 1;
                errors.push(format!(
                    "false positive {} at {}:{line}",
                    finding.rule, case.path
                ));
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + missed).max(1) as f64;
    println!(
        "gitops corpus: {tp} found, {fp} false, {missed} missed; precision {precision:.3}, recall {recall:.3}"
    );
    for error in &errors {
        println!("  {error}");
    }
    assert_eq!(missed, 0, "every real credential is found: {errors:?}");
    assert_eq!(
        fp, 0,
        "references, names and placeholders stay quiet: {errors:?}"
    );
}

/// The corpus has what it claims: every kind of case, and real secrets to find.
#[test]
fn the_corpus_labels_real_secrets_and_holds_the_shapes() {
    let cases = gitops::cases();
    let secrets: usize = cases.iter().map(|c| c.secrets.len()).sum();
    assert!(secrets >= 8, "{secrets} labelled secrets");
    for needle in [
        "op://",
        "ref+vault://",
        "<path:",
        "${",
        "{{",
        "existingSecret:",
        "secretKey:",
    ] {
        assert!(cases.iter().any(|c| c.text.contains(needle)), "no {needle}");
    }
    for name in [
        ".env.example",
        ".env.sample",
        ".env.template",
        ".env.dist",
        ".sample.env",
        ".example.env",
    ] {
        assert!(cases.iter().any(|c| c.path.ends_with(name)), "no {name}");
    }
    assert!(cases.iter().all(|c| !c.text.contains(['⟦', '⟧'])));
}
