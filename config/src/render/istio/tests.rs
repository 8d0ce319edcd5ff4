//! Unit tests of the istio target.
