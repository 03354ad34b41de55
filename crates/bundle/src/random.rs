//! Random values for `bundle ensure`: uniform over an alphabet, from the OS random source.

use keyward_core::SecretValue;

/// Letters and digits: safe in every shell, URL and config syntax without quoting.
pub const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A value of `length` characters drawn uniformly from `alphabet` (at most 256 symbols).
///
/// Rejection sampling avoids the bias of `byte % alphabet.len()`.
pub fn generate(length: usize, alphabet: &[u8]) -> Result<SecretValue, getrandom::Error> {
    debug_assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let limit = 256 - 256 % alphabet.len();
    let mut out = Vec::with_capacity(length);
    let mut pool = zeroize::Zeroizing::new([0u8; 64]);
    while out.len() < length {
        getrandom::fill(pool.as_mut())?;
        for &byte in pool.iter() {
            if usize::from(byte) < limit && out.len() < length {
                out.push(alphabet[usize::from(byte) % alphabet.len()]);
            }
        }
    }
    Ok(SecretValue::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_length_and_alphabet() {
        let value = generate(40, ALPHANUMERIC).expect("random");
        assert_eq!(value.len(), 40);
        assert!(
            value
                .expose_bytes()
                .iter()
                .all(|b| ALPHANUMERIC.contains(b))
        );
        assert_ne!(value, generate(40, ALPHANUMERIC).expect("random"));
        assert!(generate(0, ALPHANUMERIC).expect("random").is_empty());
    }

    #[test]
    fn every_symbol_appears() {
        let value = generate(20_000, b"ab").expect("random");
        let a = value.expose_bytes().iter().filter(|&&b| b == b'a').count();
        assert!((9_000..11_000).contains(&a), "skewed: {a}");
    }
}
