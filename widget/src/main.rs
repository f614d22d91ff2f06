//! Placeholder; replaced by the real app.
fn main() {}
