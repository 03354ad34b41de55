//! keyward-providers against real stores, as one test binary: OpenBao, moto (Secrets Manager and
//! Parameter Store), lowkey-vault and the Key Vault double, a real kube-apiserver. `util` holds
//! the helpers the modules share.

mod util;

mod aws_moto;
mod aws_parameter_store_moto;
mod azurekv_keyvault;
mod kubernetes_apiserver;
mod service_account_tokens;
mod vault_openbao;
