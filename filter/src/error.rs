//! OpenAI-shaped errors: [`GatewayError`], defined with the error bodies in
//! `switchyard_contract::error_body` (the keyservice and the config compiler write
//! the same bodies).

pub use switchyard_contract::error_body::{type_for_status, GatewayError};
