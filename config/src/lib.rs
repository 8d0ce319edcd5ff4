//! The `switchyard` command's library: LiteLLM `config.yaml` loading and validation
//! (`litellm`, with `include`d files merged by `litellm::includes`; LiteLLM's
//! command-line flags in `litellm_cli`), compilation into a gateway plan (`plan`, with
//! model prices from `prices`, Vertex AI's addresses and service accounts from
//! `plan::vertex` and the routes' timeouts from `plan::timeouts`), Envoy bootstrap
//! rendering (`render`) and running the gateway (`up`).
//!
//! The modules are layered, lowest first: `prices` and `litellm` (which knows nothing
//! of the plan), `plan`, then `render`, `litellm_cli` and `up`. A module never names
//! one above it (`scripts/check-module-cycles` fails on an import cycle).
//!
//! The binary (`main.rs`) is a thin CLI over these; benchmarks and fuzz targets use
//! them directly.

pub mod crd;
pub mod litellm;
pub mod litellm_cli;
pub mod plan;
pub mod prices;
pub mod render;
pub mod up;
