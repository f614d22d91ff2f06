//! Shared helpers live in the test binaries; this library is empty on purpose.
