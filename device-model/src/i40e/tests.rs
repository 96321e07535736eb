//! Device-level tests of the X710 personality.
