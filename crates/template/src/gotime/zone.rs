//! Go's `*time.Location`: UTC, the process's `Local` zone (read from `TZ` or
//! `/etc/localtime` as Go's `initLocal` does), zones from `LoadLocation` and fixed zones
//! invented by `time.Parse`. Zone rules come from the system tz database through `jiff`;
//! keyward only asks it "which offset and abbreviation apply at this instant", the question
//! Go's `Location.lookup` answers. The local zone's table of abbreviations, which
//! `time.Parse` searches by name, is read from its TZif file directly.

use std::sync::{Arc, OnceLock};

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A Go `*time.Location`. Go compares locations by pointer, so fixed and loaded zones
/// compare by identity (two `toDate` results in the same invented zone are not `eq`).
#[derive(Clone, Debug)]
pub(crate) enum Zone {
    /// `time.UTC`.
    Utc,
    /// `time.Local`: the process's zone, from `TZ` or `/etc/localtime`.
    Local,
    /// `time.FixedZone(name, offset)`, as `time.Parse` invents for unknown offsets.
    Fixed(Arc<(String, i32)>),
    /// A zone from `time.LoadLocation`.
    Loaded(Arc<TimeZone>),
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Zone::Utc, Zone::Utc) | (Zone::Local, Zone::Local) => true,
            // Go's FixedZone hands out one shared location per unnamed whole-hour offset.
            (Zone::Fixed(a), Zone::Fixed(b)) => Arc::ptr_eq(a, b) || (shared_fixed(a) && a == b),
            (Zone::Loaded(a), Zone::Loaded(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Whether `FixedZone` returns its cached location for this name and offset.
fn shared_fixed(zone: &(String, i32)) -> bool {
    zone.0.is_empty() && (-12 * 3600..=14 * 3600).contains(&zone.1) && zone.1 % 3600 == 0
}

impl Zone {
    /// Go's `Location.lookup`: the abbreviation and offset (seconds east of UTC) in effect at
    /// `unix`.
    pub(crate) fn lookup(&self, unix: i64) -> (String, i32) {
        match self {
            Zone::Utc => ("UTC".to_owned(), 0),
            Zone::Local => match local_zone() {
                Some(tz) => tz_lookup(tz, unix),
                None => ("UTC".to_owned(), 0),
            },
            Zone::Fixed(fixed) => (fixed.0.clone(), fixed.1),
            Zone::Loaded(tz) => tz_lookup(tz, unix),
        }
    }

    pub(super) fn offset(&self, unix: i64) -> i32 {
        self.lookup(unix).1
    }

    /// Go's `lookupName`: the offset of the zone abbreviated `name` around `unix`, preferring
    /// one actually in effect then, else the first with that name in the zone's table.
    pub(crate) fn lookup_name(&self, name: &str, unix: i64) -> Option<i32> {
        let table: &[(String, i32)] = match self {
            Zone::Utc => &[],
            Zone::Fixed(fixed) => std::slice::from_ref(&**fixed),
            Zone::Local => local().map_or(&[], |l| l.table.as_slice()),
            // Only the local zone is searched by name (time.Parse); loaded zones never are.
            Zone::Loaded(_) => &[],
        };
        for (abbrev, offset) in table {
            if abbrev == name {
                let (found, actual) = self.lookup(unix.wrapping_sub(i64::from(*offset)));
                if found == *abbrev {
                    return Some(actual);
                }
            }
        }
        table
            .iter()
            .find(|(abbrev, _)| abbrev == name)
            .map(|(_, offset)| *offset)
    }

    /// How `Time.GoString` names the location.
    pub(crate) fn go_syntax(&self) -> String {
        let name = match self {
            Zone::Utc => return "time.UTC".to_owned(),
            Zone::Local => return "time.Local".to_owned(),
            Zone::Fixed(fixed) => fixed.0.as_str(),
            Zone::Loaded(tz) => tz.iana_name().unwrap_or(""),
        };
        let mut quoted = String::from("time.Location(\"");
        for b in name.bytes() {
            match b {
                b'"' | b'\\' => {
                    quoted.push('\\');
                    quoted.push(char::from(b));
                }
                b' '..=b'~' => quoted.push(char::from(b)),
                _ => quoted.push_str(&format!("\\x{b:02x}")),
            }
        }
        quoted.push_str("\")");
        quoted
    }

    /// Whether daylight saving time is in effect at `unix`.
    pub(crate) fn is_dst(&self, unix: i64) -> bool {
        let tz = match self {
            Zone::Utc | Zone::Fixed(_) => return false,
            Zone::Local => match local() {
                Some(l) => &l.tz,
                None => return false,
            },
            Zone::Loaded(tz) => tz,
        };
        tz.to_offset_info(clamp_timestamp(unix)).dst().is_dst()
    }
}

/// Seconds in 400 Gregorian years, after which the calendar (and a zone's POSIX rule for
/// the future) repeats exactly.
const FOUR_CENTURIES: i64 = 146_097 * 86_400;

/// `unix` as a timestamp jiff can look up: instants past year 9999 move back by whole
/// 400-year cycles (the zone's final rule gives them the same offset as Go's extend rule
/// does), instants before year -9999 use the zone's earliest offset, as they do in Go.
pub(super) fn clamp_timestamp(unix: i64) -> Timestamp {
    let max = Timestamp::MAX.as_second();
    let unix = if unix > max {
        let cycles = (unix - max) / FOUR_CENTURIES + 1;
        unix - cycles * FOUR_CENTURIES
    } else {
        unix.max(Timestamp::MIN.as_second())
    };
    Timestamp::from_second(unix).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn tz_lookup(tz: &TimeZone, unix: i64) -> (String, i32) {
    let info = tz.to_offset_info(clamp_timestamp(unix));
    (info.abbreviation().to_owned(), info.offset().seconds())
}

/// The process's local zone: its rules, and its table of (abbreviation, offset) in the
/// file's order, which `time.Parse` searches by name.
struct Local {
    tz: TimeZone,
    table: Vec<(String, i32)>,
}

/// Where Go looks for a zone named by `TZ`.
const ZONE_DIRS: [&str; 4] = [
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
    "/etc/zoneinfo/",
];

/// The process's local zone, read once the way Go's `initLocal` does: `TZ` unset means
/// `/etc/localtime`, `TZ=""` means UTC, otherwise an absolute file path or a zone name
/// looked up in Go's zoneinfo directories; anything unreadable means UTC (`None`).
fn local() -> Option<&'static Local> {
    static LOCAL: OnceLock<Option<Local>> = OnceLock::new();
    LOCAL
        .get_or_init(|| {
            let data = match std::env::var("TZ") {
                Err(std::env::VarError::NotPresent) => std::fs::read("/etc/localtime").ok()?,
                Err(std::env::VarError::NotUnicode(_)) => return None,
                Ok(tz) => {
                    let tz = tz.strip_prefix(':').unwrap_or(&tz);
                    if tz.is_empty() {
                        return None;
                    }
                    if tz.starts_with('/') {
                        std::fs::read(tz).ok()?
                    } else {
                        ZONE_DIRS
                            .iter()
                            .find_map(|dir| std::fs::read(format!("{dir}{tz}")).ok())?
                    }
                }
            };
            Some(Local {
                tz: TimeZone::tzif("Local", &data).ok()?,
                table: tzif_zone_table(&data),
            })
        })
        .as_ref()
}

pub(super) fn local_zone() -> Option<&'static TimeZone> {
    local().map(|l| &l.tz)
}

fn be32(data: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(bytes)).ok()
}

/// The local time types of a TZif file (RFC 8536), in file order, from the 64-bit block
/// when there is one (as Go reads it): abbreviation and UT offset.
fn tzif_zone_table(data: &[u8]) -> Vec<(String, i32)> {
    tzif_types(data).unwrap_or_default()
}

fn tzif_types(data: &[u8]) -> Option<Vec<(String, i32)>> {
    if !data.starts_with(b"TZif") {
        return None;
    }
    let counts = |header: usize| -> Option<[usize; 6]> {
        let mut c = [0; 6];
        for (i, slot) in c.iter_mut().enumerate() {
            *slot = be32(data, header + 20 + 4 * i)?;
        }
        Some(c)
    };
    let [isut, isstd, leap, time, types, chars] = counts(0)?;
    let (mut header, mut time_size) = (0, 4);
    if *data.get(4)? >= b'2' {
        header = 44 + time * 5 + types * 6 + chars + leap * 8 + isstd + isut;
        time_size = 8;
    }
    let [_, _, _, time, types, chars] = counts(header)?;
    let types_at = header + 44 + time * time_size + time;
    let chars_at = types_at + types * 6;
    let abbrevs = data.get(chars_at..chars_at + chars)?;
    (0..types)
        .map(|i| {
            let entry = data.get(types_at + 6 * i..types_at + 6 * i + 6)?;
            let offset = i32::from_be_bytes(entry[..4].try_into().ok()?);
            let name = abbrevs.get(usize::from(entry[5])..)?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            Some((String::from_utf8_lossy(&name[..end]).into_owned(), offset))
        })
        .collect()
}

/// A zone from the tz database by its exact (case-sensitive, as on Go's Linux file system)
/// name.
fn load_named(name: &str) -> Option<TimeZone> {
    let tz = jiff::tz::db().get(name).ok()?;
    (tz.iana_name() == Some(name)).then_some(tz)
}

/// Go's `time.LoadLocation`.
pub(crate) fn load_location(name: &str) -> Option<Zone> {
    match name {
        "" | "UTC" => return Some(Zone::Utc),
        "Local" => return Some(Zone::Local),
        _ => {}
    }
    if name.contains("..") || name.starts_with(['/', '\\']) {
        return None;
    }
    load_named(name).map(|tz| Zone::Loaded(Arc::new(tz)))
}
