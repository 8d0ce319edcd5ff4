//! Wire models: the request, answer and stream shapes of the APIs the gateway
//! speaks, shared by the providers that send them and the client sides that take them.

pub mod anthropic;
