//! The peers start and answer as the tests expect them to, as one test binary.

mod kubernetes_smoke;
mod lowkey_vault_smoke;
mod moto_smoke;
mod openbao_smoke;
mod peer_requirement;
mod tools_smoke;
