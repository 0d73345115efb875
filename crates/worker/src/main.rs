//! The mailroom worker binary.

fn main() {}
