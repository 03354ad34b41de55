//! Sprig's random values: `randAlphaNum`, `randAlpha`, `randNumeric`, `randAscii`, `randInt`,
//! `randBytes`, `uuidv4` and `shuffle`. Every byte comes from the operating system's CSPRNG
//! (as Sprig's `crypto/rand`-backed helpers do); only the shape of the output can match Go.

use base64::Engine;

use crate::limits;
use crate::registry::{FuncMap, FuncResult, Param, int_at, text_at};
use crate::value::Value;

use Param::{Int, Str};

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALPHANUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const NUMERIC: &[u8] = b"0123456789";

pub(crate) fn register(map: &mut FuncMap) {
    map.add("randAlphaNum", &[Int], None, |a| {
        random_from(ALPHANUM, int_at(&a, 0))
    });
    map.add("randAlpha", &[Int], None, |a| {
        random_from(ALPHA, int_at(&a, 0))
    });
    map.add("randNumeric", &[Int], None, |a| {
        random_from(NUMERIC, int_at(&a, 0))
    });
    map.add("randAscii", &[Int], None, |a| {
        let printable: Vec<u8> = (32u8..=126).collect();
        random_from(&printable, int_at(&a, 0))
    });
    map.add("randInt", &[Int, Int], None, |a| {
        rand_int(int_at(&a, 0), int_at(&a, 1))
    });
    map.add("randBytes", &[Int], None, |a| rand_bytes(int_at(&a, 0)));
    map.add("uuidv4", &[], None, |_| uuidv4());
    map.add("shuffle", &[Str], None, |a| shuffle(&text_at(&a, 0)));
}

fn random_u64() -> Result<u64, String> {
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf).map_err(|_| "the system random source failed".to_owned())?;
    Ok(u64::from_le_bytes(buf))
}

/// A uniform value below `n` (`n` > 0), by rejection so that no value is favoured.
fn below(n: u64) -> Result<u64, String> {
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let r = random_u64()?;
        if r < zone {
            return Ok(r % n);
        }
    }
}

/// goutils' `CryptoRandom*`: `count` characters from `set`; a negative count gives "" (Sprig
/// drops the error).
fn random_from(set: &[u8], count: i64) -> FuncResult {
    limits::reserve(usize::try_from(count).unwrap_or(0))?;
    let mut out = String::new();
    for _ in 0..count.max(0) {
        let i = below(set.len() as u64)?;
        out.push(char::from(set[i as usize]));
    }
    Ok(Value::from(out))
}

/// `rand.Intn(max-min) + min`; Go's `Intn` panics unless `max > min`.
fn rand_int(min: i64, max: i64) -> FuncResult {
    let span = max
        .checked_sub(min)
        .filter(|s| *s > 0)
        .ok_or_else(|| "invalid argument to Intn".to_owned())?;
    let offset = below(span as u64)? as i64;
    Ok(Value::Int(min + offset))
}

fn rand_bytes(count: i64) -> FuncResult {
    let len = usize::try_from(count).map_err(|_| "makeslice: len out of range".to_owned())?;
    // The result is the base64 of `len` bytes.
    limits::reserve_product(len.div_ceil(3), 4, 0)?;
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|_| "the system random source failed".to_owned())?;
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(buf),
    ))
}

/// A random (version 4, RFC 4122 variant) UUID in lower-case hex.
fn uuidv4() -> FuncResult {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| "the system random source failed".to_owned())?;
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Ok(Value::from(uuid.hyphenated().to_string()))
}

/// goutils' `Shuffle`: the characters of `s` in a random order (Fisher-Yates).
fn shuffle(s: &str) -> FuncResult {
    let mut chars: Vec<char> = s.chars().collect();
    for i in (1..chars.len()).rev() {
        let j = below(i as u64 + 1)? as usize;
        chars.swap(i, j);
    }
    Ok(Value::from(chars.into_iter().collect::<String>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_sprig() {
        let Ok(Value::String(s)) = random_from(ALPHA, 12) else {
            panic!("randAlpha returns a string");
        };
        assert_eq!(s.len(), 12);
        assert!(s.as_bytes().iter().all(|b| b.is_ascii_alphabetic()));
        assert_eq!(random_from(ALPHA, -1), Ok(Value::from(String::new())));
        assert!(rand_int(5, 5).is_err());
        let Ok(Value::Int(i)) = rand_int(-3, 2) else {
            panic!("randInt returns an int");
        };
        assert!((-3..2).contains(&i));
        let Ok(Value::String(u)) = uuidv4() else {
            panic!("uuidv4 returns a string");
        };
        assert_eq!(u.len(), 36);
        assert_eq!(&u.as_bytes()[14..15], b"4");
    }
}
