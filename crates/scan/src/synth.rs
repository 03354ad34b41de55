//! Synthetic fixture generation: templates such as `token={an:36}` expanded into deterministic,
//! high-entropy text, so tests and corpora never store a credential-shaped literal.
//!
//! Template kinds: `an` (alphanumeric), `al` (letters), `lo` (lowercase + digits), `up`
//! (uppercase + digits), `hex`, `HEX`, `dig`, `b64`, `url` (base64url), `b32`, `lb32`
//! (lowercase base32), `bech` (bech32), `bcrypt`; `{basic}` is base64 of `user:password`.

use base64::Engine;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const HEX_UP: &[u8] = b"0123456789ABCDEF";
const DIGITS: &[u8] = b"0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B32_LOW: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
const BECH: &[u8] = b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
const BCRYPT: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A deterministic generator (xorshift64*): the same seed always yields the same fixture.
#[derive(Clone, Debug)]
pub struct Synth {
    state: u64,
}

impl Synth {
    /// A generator seeded from any text (a rule id, a test name).
    pub fn new(seed: &str) -> Self {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for byte in seed.bytes() {
            state = (state ^ u64::from(byte)).wrapping_mul(0x100_0000_01B3);
        }
        Self { state: state | 1 }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `len` characters drawn from `alphabet`.
    pub fn chars(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| {
                let index = (self.next() >> 33) as usize % alphabet.len();
                char::from(alphabet[index])
            })
            .collect()
    }

    /// Expands every `{kind:len}` placeholder of `template`.
    pub fn expand(&mut self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() * 2);
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after
                .find('}')
                .and_then(|end| self.placeholder(&after[..end]))
            {
                Some(text) => {
                    out.push_str(&text);
                    rest = &after[after.find('}').map_or(0, |end| end + 1)..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn placeholder(&mut self, spec: &str) -> Option<String> {
        if spec == "basic" {
            let pair = format!("deploy:{}", self.chars(ALNUM, 16));
            return Some(base64::engine::general_purpose::STANDARD.encode(pair));
        }
        let (kind, len) = spec.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let alphabet = match kind {
            "an" => ALNUM,
            "al" => ALPHA,
            "lo" => LOWER,
            "up" => UPPER,
            "hex" => HEX,
            "HEX" => HEX_UP,
            "dig" => DIGITS,
            "b64" => B64,
            "url" => URL,
            "b32" => B32,
            "lb32" => B32_LOW,
            "bech" => BECH,
            "bcrypt" => BCRYPT,
            _ => return None,
        };
        Some(self.chars(alphabet, len))
    }
}

/// Expands `template` with a generator seeded by `seed`.
pub fn expand(seed: &str, template: &str) -> String {
    Synth::new(seed).expand(template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_is_deterministic_and_sized() {
        let a = expand("seed", "x={an:36};y={hex:8}");
        assert_eq!(a, expand("seed", "x={an:36};y={hex:8}"));
        assert_ne!(a, expand("other", "x={an:36};y={hex:8}"));
        assert_eq!(a.len(), "x=".len() + 36 + ";y=".len() + 8);
        assert!(a[2..38].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn unknown_braces_stay_literal() {
        assert_eq!(
            expand("s", "{{ .Values.x }} {nope}"),
            "{{ .Values.x }} {nope}"
        );
    }
}
