//! Integration tests of the domain crate, one module per area.

mod policy;
