//! ECDSA signatures in low-S form. For any valid signature (r, s) over P-256, (r, n − s) is valid
//! too, so one token could be re-encoded into a second, different, equally valid token (a second
//! authorizer cache key, a second `jti`-less replay). authgate signs its ES256 tokens with
//! s ≤ n/2 and accepts only that form from its own keys; outside issuers' signers may produce
//! either form, so their keys accept both.

/// The order n of the P-256 group, big-endian.
const N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// ⌊n/2⌋, big-endian.
const HALF_N: [u8; 32] = [
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8,
];

/// Whether the raw `r || s` signature has s ≤ n/2.
pub(crate) fn is_low_s(signature: &[u8]) -> bool {
    signature.len() == 64 && signature[32..] <= HALF_N[..]
}

/// The signature with s replaced by n − s when s is high; other lengths unchanged.
pub(crate) fn normalize(mut signature: Vec<u8>) -> Vec<u8> {
    if signature.len() == 64 && !is_low_s(&signature) {
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let difference = i16::from(N[i]) - i16::from(signature[32 + i]) - borrow;
            borrow = i16::from(difference < 0);
            signature[32 + i] = (difference + (borrow << 8)) as u8;
        }
    }
    signature
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_n_is_half_of_n() {
        // 2 * HALF_N + 1 == N.
        let mut doubled = [0u8; 32];
        let mut carry = 1u16;
        for i in (0..32).rev() {
            let sum = u16::from(HALF_N[i]) * 2 + carry;
            doubled[i] = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(doubled, N);
    }

    #[test]
    fn a_high_s_becomes_n_minus_s_and_a_low_s_is_kept() {
        let mut high = vec![7u8; 32];
        high.extend_from_slice(&N);
        high[63] -= 1; // s = n − 1
        let low = normalize(high);
        assert_eq!(&low[..32], &[7u8; 32]);
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(&low[32..], &one, "n − (n − 1) = 1");
        assert!(is_low_s(&low));
        assert_eq!(normalize(low.clone()), low);
    }
}
