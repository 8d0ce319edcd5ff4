//! Client sides other than OpenAI's: requests in another API's format, turned into
//! the OpenAI format every provider translation speaks, and the answers turned back.

pub mod anthropic;
