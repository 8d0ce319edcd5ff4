//! Wire models: the shapes of the APIs the gateway speaks, defined once instead of
//! copied into each translator: the OpenAI answer types, `[DONE]`, data URIs and the
//! error for a field at fault (`openai`); Anthropic's Messages answers, stream
//! events, usage and errors (`anthropic`), shared by the providers that send them
//! and the client sides that take them.

pub mod anthropic;
pub mod openai;
