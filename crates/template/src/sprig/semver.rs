//! Sprig's `semver` and `semverCompare`, on Masterminds semver v3.3.1 semantics (not
//! Cargo's): loose versions (`v1`, `1.2`), its prerelease ordering quirks, and its constraint
//! language (`=`, `!=`, `>`, `<`, `>=`, `<=`, `~`, `^`, `x`/`*` wildcards, `a - b` ranges,
//! `,` or space for AND, `||` for OR). The regular expressions are Masterminds' own, with
//! `\s` spelled as RE2's ASCII class.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use regex::Regex;

use crate::registry::{FuncMap, Param, text_at};
use crate::value::Value;

pub(crate) use crate::semver::Version;
use crate::semver::compare_prerelease;

const CONSTRAINT_VERSION: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// RE2's `\s`.
const WS: &str = r"[\t\n\f\r ]";

struct Patterns {
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static PATTERNS: OnceLock<Option<Patterns>> = OnceLock::new();
    PATTERNS
        .get_or_init(|| {
            let (cv, ops, s) = (CONSTRAINT_VERSION, OPS, WS);
            Some(Patterns {
                constraint: Regex::new(&format!("^{s}*({ops}){s}*({cv}){s}*$")).ok()?,
                range: Regex::new(&format!("{s}*({cv}){s}+-{s}+({cv}){s}*")).ok()?,
                find: Regex::new(&format!("({ops}){s}*({cv})")).ok()?,
                valid: Regex::new(&format!(
                    "^({s}*({ops}){s}*({cv}){s}*)((?:{s}+|,{s}*)({ops}){s}*({cv}){s}*)*$"
                ))
                .ok()?,
            })
        })
        .as_ref()
}

/// The operator of one constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

struct Constraint {
    op: Op,
    con: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn improper() -> String {
    "improper constraint (the constraint is not shown)".to_owned()
}

/// Masterminds' `rewriteRange`: `a - b` becomes `>= a, <= b `.
fn rewrite_range(p: &Patterns, c: &str) -> String {
    let mut out = c.to_owned();
    for caps in p.range.captures_iter(c) {
        let (Some(whole), Some(low), Some(high)) = (caps.get(0), caps.get(1), caps.get(11)) else {
            continue;
        };
        let replacement = format!(">= {}, <= {} ", low.as_str(), high.as_str());
        out = out.replacen(whole.as_str(), &replacement, 1);
    }
    out
}

/// `semver.NewConstraint`: OR-groups of AND-ed constraints.
fn parse_constraints(c: &str) -> Result<Vec<Vec<Constraint>>, String> {
    let p = patterns().ok_or_else(improper)?;
    let c = rewrite_range(p, c);
    c.split("||")
        .map(|group| {
            if !p.valid.is_match(group) {
                return Err(improper());
            }
            let found: Vec<&str> = p.find.find_iter(group).map(|m| m.as_str()).collect();
            let parts = if found.is_empty() { vec![group] } else { found };
            parts.into_iter().map(|s| parse_constraint(p, s)).collect()
        })
        .collect()
}

fn parse_constraint(p: &Patterns, c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        return Ok(Constraint {
            op: Op::TildeOrEqual,
            con: Version::parse("0.0.0")?,
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let caps = p.constraint.captures(c).ok_or_else(improper)?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let op = match group(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        _ => Op::Caret,
    };
    let (major, minor, patch, pre) = (group(3), group(4), group(5), group(6));
    let (mut minor_dirty, mut patch_dirty, mut dirty) = (false, false, false);
    let version = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_x(minor.trim_start_matches('.')) || minor.is_empty() {
        (minor_dirty, dirty) = (true, true);
        format!("{major}.0.0{pre}")
    } else if is_x(patch.trim_start_matches('.')) || patch.is_empty() {
        (patch_dirty, dirty) = (true, true);
        format!("{major}{minor}.0{pre}")
    } else {
        group(2).to_owned()
    };
    let con = Version::parse(&version).map_err(|_| "constraint Parser Error".to_owned())?;
    Ok(Constraint {
        op,
        con,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.op != Op::NotEqual && !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        match self.op {
            Op::NotEqual => self.not_equal(v),
            Op::Greater => self.greater(v),
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => self.less_equal(v),
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual if self.dirty => self.tilde(v),
            Op::TildeOrEqual => v.compare(c) == Ordering::Equal,
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if !v.pre.is_empty() && c.pre.is_empty() {
                return false;
            }
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) == Ordering::Greater;
        }
        if v.major != c.major {
            return v.major > c.major;
        }
        if self.minor_dirty {
            return false;
        }
        if self.patch_dirty {
            return v.minor > c.minor;
        }
        v.compare(c) == Ordering::Greater
    }

    fn less_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) != Ordering::Greater;
        }
        if v.major > c.major {
            return false;
        }
        !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

/// Sprig's `semverCompare`: whether `version` satisfies `constraint`.
pub(crate) fn semver_compare(constraint: &str, version: &str) -> Result<bool, String> {
    let groups = parse_constraints(constraint)?;
    let v = Version::parse(version)?;
    Ok(groups.iter().any(|and| and.iter().all(|c| c.check(&v))))
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("semver", &[Param::Str], None, |a| {
        Version::parse(&text_at(&a, 0)).map(|v| Value::Semver(Arc::new(v)))
    });
    map.add("semverCompare", &[Param::Str, Param::Str], None, |a| {
        semver_compare(&text_at(&a, 0), &text_at(&a, 1)).map(Value::Bool)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &str, v: &str) -> bool {
        semver_compare(c, v).expect("valid")
    }

    #[test]
    fn constraints_follow_masterminds() {
        assert!(check(">=1.2.3, <2", "1.9.0"));
        assert!(!check("^1.2.3", "2.0.0"));
        assert!(check("~1.2", "1.2.9"));
        assert!(check("1.2 - 1.4.5", "1.4.5"));
        assert!(!check(">1.0", "1.1.0-beta"));
        assert!(check(">1.0-alpha", "1.1.0-beta"));
        assert!(check("<1 || >=3", "3.1.0"));
        assert!(check("1.x", "1.7.0"));
        assert!(semver_compare(">>1", "1.0.0").is_err());
    }
}
