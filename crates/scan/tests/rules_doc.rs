//! `docs/scan/rules.md` is generated from the rule catalogue: this test fails when the committed
//! page differs from `keyward_scan::rules_markdown()`, so every rule id keeps a current doc page.
//! `KEYWARD_BLESS=1` rewrites the page instead.

use std::path::PathBuf;

fn page() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/scan/rules.md")
}

#[test]
fn rules_page_matches_the_catalogue() {
    let expected = keyward_scan::rules_markdown();
    if std::env::var_os("KEYWARD_BLESS").is_some() {
        std::fs::create_dir_all(page().parent().expect("docs dir")).expect("mkdir");
        std::fs::write(page(), &expected).expect("write rules.md");
    }
    let committed = std::fs::read_to_string(page()).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/scan/rules.md is stale: run KEYWARD_BLESS=1 cargo test -p keyward-scan --test integration rules_doc"
    );
}

#[test]
fn every_rule_id_has_a_heading() {
    let page = keyward_scan::rules_markdown();
    for id in keyward_scan::rule_ids() {
        assert!(page.contains(&format!("### `{id}`")), "{id} undocumented");
    }
}
