//! Support for enums whose string forms and variant lists come from `strum` derives, so a
//! new variant gets its string and its place in `ALL` from its declaration alone.

/// The variants of an enum as an array, for `ALL` constants that callers iterate by value:
/// `pub const ALL: [E; E::VARIANTS.len()] = variants::array(E::VARIANTS);`. A length that
/// does not match is a compile-time error (the copy indexes past the end).
pub const fn array<T: Copy, const N: usize>(variants: &[T]) -> [T; N] {
    let mut out = [variants[0]; N];
    let mut i = 0;
    while i < N {
        out[i] = variants[i];
        i += 1;
    }
    out
}
