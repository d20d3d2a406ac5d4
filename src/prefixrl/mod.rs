//! PrefixRL (issue 12): RL on hard problems conditioned on off-policy prefixes.
pub mod toy;
