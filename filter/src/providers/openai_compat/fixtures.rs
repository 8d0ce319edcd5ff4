//! Test fixtures shared by the unit tests of the openai_compat modules.

use super::*;

pub(super) fn run(provider: ProviderKind, body: Value, drop: bool) -> Result<Value, GatewayError> {
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut top = TopLevel::parse(&bytes).unwrap();
    apply(&quirks(provider), Endpoint::ChatCompletions, &mut top, drop)?;
    Ok(serde_json::from_slice(&top.to_vec().unwrap()).unwrap())
}

pub(super) fn run_for(quirks: &Quirks, body: Value) -> Value {
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut top = TopLevel::parse(&bytes).unwrap();
    apply(quirks, Endpoint::ChatCompletions, &mut top, false).unwrap();
    serde_json::from_slice(&top.to_vec().unwrap()).unwrap()
}
