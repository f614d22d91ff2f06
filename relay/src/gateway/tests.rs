//! Unit tests of the visitor socket over channels (no network).
