//! keyward-sync's integration tests as one binary: the engine's rules with an in-memory sink, and
//! the copies of a value a host sync leaves unwiped.

/// Sees blocks freed while still holding a value (`copies`); passes everything else through.
#[global_allocator]
static ALLOCATOR: keyward_test_support::wipe_check::WipeCheck =
    keyward_test_support::wipe_check::WipeCheck;

mod copies;
mod reconcile;
