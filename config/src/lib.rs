//! The `switchyard` command's library: LiteLLM `config.yaml` loading and validation
//! (`litellm`, with `include`d files merged by `includes`; LiteLLM's command-line flags in `litellm_cli`), compilation into a gateway plan (`plan`, with model prices from
//! `prices` and Vertex AI's addresses and service accounts from `vertex`), Envoy bootstrap rendering (`render`) and running the gateway (`up`).
//!
//! The binary (`main.rs`) is a thin CLI over these; benchmarks and fuzz targets use
//! them directly.

pub mod includes;
pub mod litellm;
pub mod litellm_cli;
pub mod plan;
pub mod prices;
pub mod render;
pub mod timeouts;
pub mod up;
pub mod vertex;
