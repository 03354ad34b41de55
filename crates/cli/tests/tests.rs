//! The `keyward` binary end to end, as one test binary (shaped like ripgrep's `tests/`): each
//! module covers one command or one family of hostile input, and `util` holds what they share.
//! Run one module with `cargo test -p keyward --test integration MODULE::`.

mod util;

mod audit;
mod bundle;
mod check;
mod cli;
mod convert;
mod eso_snippets;
mod helm;
mod hostile_bundle;
mod hostile_scan;
mod hostile_sync;
mod hostile_template;
mod monitoring;
mod operator;
mod rotate;
mod rotate_cluster;
mod runbooks;
mod scan;
mod sync;
mod sync_azurekv;
mod sync_json_values;
mod template;
mod verify;
