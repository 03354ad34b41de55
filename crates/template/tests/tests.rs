//! keyward-template against Go's text/template and ESO's template package, as one test binary:
//! differential corpora, canaries, hostile templates and random programs. `corpus` holds the
//! shared cases.

/// Sees blocks freed while still holding a value (`copies`); passes everything else through.
#[global_allocator]
static ALLOCATOR: keyward_test_support::wipe_check::WipeCheck =
    keyward_test_support::wipe_check::WipeCheck;

mod corpus;

mod canary;
mod copies;
mod differential;
mod eso_differential;
mod hostile;
mod no_panic;
mod random;
