//! tickwire-tests: cross-crate suites and the deterministic simulation.
//!
//! [`sim`] couples tickwire's connection machines to the exchange model of
//! `tickwire-mock` over a faulty simulated link, in virtual time, and checks
//! DESIGN.md's rules after every step. The `tickwire sim` command and the
//! sweep test (`cargo test -p tickwire-tests --test simulation`) run it.

#![warn(missing_docs)]

pub mod sim;
