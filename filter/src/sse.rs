//! Incremental Server-Sent Events decoding. (Being written.)
