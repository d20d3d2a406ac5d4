//! Independent RNG streams from one master seed (spec §7.1): SplitMix64 of (seed, stream).

/// One SplitMix64 output step.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of stream `stream` derived from `master`; distinct streams give unrelated seeds.
pub fn derive_seed(master: u64, stream: u64) -> u64 {
    splitmix64(splitmix64(master) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
}
