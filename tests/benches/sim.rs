//! Placeholder until the simulation benchmark lands.
fn main() {}
