//! Custom resources to the config model.
