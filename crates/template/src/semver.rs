//! Masterminds `semver.Version` (v3.3.1), the value Sprig's `semver` returns and templates call
//! methods on: loose parsing (`v1`, `1.2`), normalised printing and Masterminds' ordering,
//! prerelease quirks included. A value type of the engine (like `time.Time` in [`crate::gotime`]);
//! Sprig's constraint language lives with its functions in `sprig::semver`.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// A Masterminds `semver.Version`, as Sprig's `semver` returns it. Opaque: templates read
/// it through its methods (`.Major`, `.Prerelease`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) patch: u64,
    pub(crate) pre: String,
    pub(crate) metadata: String,
    pub(crate) original: String,
    /// A `semver.Version` value (what `IncMajor` and friends return) rather than the
    /// `*semver.Version` pointer `semver` returns: it lacks the pointer methods
    /// (`Original`, `LessThan`, …) and compares by value.
    pub(crate) by_value: bool,
}

/// semver v3.3.1's expression (the version ESO's Sprig fork pulls in): no leading zero in a
/// numeric segment or a numeric prerelease identifier. `[0-9]`, not `\d`: Go's `\d` is ASCII.
const VERSION: &str = concat!(
    r"v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?",
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?",
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
);

fn version_regex() -> Option<&'static Regex> {
    static VERSION_REGEX: OnceLock<Option<Regex>> = OnceLock::new();
    VERSION_REGEX
        .get_or_init(|| Regex::new(&format!("^{VERSION}$")).ok())
        .as_ref()
}

fn only(s: &str, allowed: impl Fn(char) -> bool) -> bool {
    s.chars().all(allowed)
}

fn alnum_dash(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn valid_prerelease(p: &str) -> bool {
    p.split('.').all(|part| {
        if only(part, |c| c.is_ascii_digit()) {
            !(part.len() > 1 && part.starts_with('0'))
        } else {
            only(part, alnum_dash)
        }
    })
}

fn segment(m: Option<regex::Match<'_>>) -> Result<u64, String> {
    match m.map(|m| m.as_str().trim_start_matches('.')) {
        None | Some("") => Ok(0),
        Some(digits) => digits
            .parse()
            .map_err(|_| "Error parsing version segment: value out of range".to_owned()),
    }
}

impl Version {
    /// `semver.NewVersion`.
    pub(crate) fn parse(v: &str) -> Result<Version, String> {
        let invalid = || "Invalid Semantic Version".to_owned();
        let caps = version_regex()
            .ok_or_else(invalid)?
            .captures(v)
            .ok_or_else(invalid)?;
        let text = |i: usize| caps.get(i).map_or("", |m| m.as_str()).to_owned();
        let version = Version {
            major: segment(caps.get(1))?,
            minor: segment(caps.get(2))?,
            patch: segment(caps.get(3))?,
            pre: text(4),
            metadata: text(5),
            original: v.to_owned(),
            by_value: false,
        };
        if !version.pre.is_empty() && !valid_prerelease(&version.pre) {
            return Err("Invalid Prerelease string".to_owned());
        }
        if !version.metadata.is_empty() && !version.metadata.split('.').all(|p| only(p, alnum_dash))
        {
            return Err("Invalid Metadata string".to_owned());
        }
        Ok(version)
    }

    /// `Version.String`: the normalised form.
    pub(crate) fn normalized(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    /// The version's successor, keeping a `v` prefix of the original (`IncMajor` and
    /// friends).
    fn bumped(&self, major: u64, minor: u64, patch: u64) -> Version {
        let mut next = Version {
            major,
            minor,
            patch,
            pre: String::new(),
            metadata: String::new(),
            original: String::new(),
            by_value: true,
        };
        let prefix = if self.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        next.original = format!("{prefix}{}", next.normalized());
        next
    }

    /// `IncMajor`.
    pub(crate) fn inc_major(&self) -> Version {
        self.bumped(self.major.wrapping_add(1), 0, 0)
    }

    /// `IncMinor`.
    pub(crate) fn inc_minor(&self) -> Version {
        self.bumped(self.major, self.minor.wrapping_add(1), 0)
    }

    /// `IncPatch`: a prerelease's patch is its release.
    pub(crate) fn inc_patch(&self) -> Version {
        let patch = if self.pre.is_empty() {
            self.patch.wrapping_add(1)
        } else {
            self.patch
        };
        self.bumped(self.major, self.minor, patch)
    }

    /// `Version.Compare`.
    pub(crate) fn compare(&self, o: &Version) -> Ordering {
        let by_numbers = (self.major, self.minor, self.patch).cmp(&(o.major, o.minor, o.patch));
        if by_numbers != Ordering::Equal {
            return by_numbers;
        }
        match (self.pre.is_empty(), o.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_prerelease(&self.pre, &o.pre),
        }
    }
}

/// Masterminds' `comparePrerelease`.
pub(crate) fn compare_prerelease(v: &str, o: &str) -> Ordering {
    let (s, o): (Vec<&str>, Vec<&str>) = (v.split('.').collect(), o.split('.').collect());
    (0..s.len().max(o.len()))
        .map(|i| compare_pre_part(s.get(i).copied(), o.get(i).copied()))
        .find(|d| *d != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Masterminds' `comparePrePart`, including its quirk that two different spellings of the
/// same number (`1` and `01`) compare as "less".
fn compare_pre_part(s: Option<&str>, o: Option<&str>) -> Ordering {
    let (s, o) = (s.unwrap_or(""), o.unwrap_or(""));
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>().ok(), o.parse::<u64>().ok()) {
        (None, None) if s > o => Ordering::Greater,
        (None, None) => Ordering::Less,
        (_, None) => Ordering::Less,
        (None, _) => Ordering::Greater,
        (Some(si), Some(oi)) if si > oi => Ordering::Greater,
        _ => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_loosely() {
        let v = Version::parse("v1.2-beta.1+b5").expect("parses");
        assert_eq!((v.major, v.minor, v.patch), (1, 2, 0));
        assert_eq!(v.normalized(), "1.2.0-beta.1+b5");
        assert!(Version::parse("1.2.3-01").is_err());
        assert!(Version::parse("1.2.3.4").is_err());
    }

    #[test]
    fn leading_zeros_are_refused_as_semver_3_3_1_refuses_them() {
        for v in [
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "v01.2.3",
            "1.2.3-01",
            "1.2.3-rc.00",
        ] {
            assert_eq!(
                Version::parse(v),
                Err("Invalid Semantic Version".to_owned()),
                "{v}"
            );
        }
        assert!(Version::parse("0.0.0-0.rc01+001").is_ok());
        // Go's `\d` is ASCII: an Arabic-Indic digit is not a digit there.
        assert!(Version::parse("1.\u{0662}.3").is_err());
    }
}
