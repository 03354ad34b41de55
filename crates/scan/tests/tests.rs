//! keyward-scan's integration tests as one binary: accuracy on the synthetic corpus, precision on
//! GitOps repositories, Git sources, hostile input and the generated rules page.

/// The GitOps precision corpus (labelled cases; `examples/gitops_corpus.rs` writes it to disk).
#[path = "corpus/gitops.rs"]
mod gitops;

mod accuracy;
mod git_sources;
mod gitops_precision;
mod hostile;
mod rules_doc;
