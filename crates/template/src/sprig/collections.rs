//! Sprig's list and dictionary functions.
//!
//! Go maps are references, so Sprig's `set`, `unset` and `merge` change the map they are
//! given; keyward's values are copied, so only the returned map shows the change.

use std::collections::BTreeMap;

use super::{is_empty, strval, to_int64};
use crate::gostring::GoString;
use crate::registry::{FuncMap, FuncResult, Param, bytes_at, int_at};
use crate::value::Value;

use Param::{Any, Int, Map, Str};

pub(crate) fn register(map: &mut FuncMap) {
    register_lists(map);
    register_list_queries(map);
    register_dicts(map);
}

fn as_list(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::List(items) => Ok(items.clone()),
        other => Err(format!("Cannot {what} on type {}", other.go_kind())),
    }
}

/// A map key made of a Go string. keyward's map keys are text: the bytes that are not
/// UTF-8 in a key built from binary data (`dict (b64dec …) 1`) are read as U+FFFD.
fn as_map(v: &Value) -> BTreeMap<GoString, Value> {
    match v {
        Value::Map(m) => m.clone(),
        _ => BTreeMap::new(),
    }
}

fn list(items: Vec<Value>) -> FuncResult {
    Ok(Value::List(items))
}

fn register_lists(map: &mut FuncMap) {
    map.add("list", &[], Some(Any), list);
    map.add("tuple", &[], Some(Any), list);
    for name in ["append", "push", "mustAppend", "mustPush"] {
        map.add(name, &[Any, Any], None, |a| {
            let mut items = as_list(&a[0], "push")?;
            items.push(a[1].clone());
            list(items)
        });
    }
    for name in ["prepend", "mustPrepend"] {
        map.add(name, &[Any, Any], None, |a| {
            let mut items = as_list(&a[0], "prepend")?;
            items.insert(0, a[1].clone());
            list(items)
        });
    }
    for name in ["first", "mustFirst"] {
        map.add(name, &[Any], None, |a| {
            Ok(as_list(&a[0], "find first")?
                .into_iter()
                .next()
                .unwrap_or(Value::Nil))
        });
    }
    for name in ["last", "mustLast"] {
        map.add(name, &[Any], None, |a| {
            Ok(as_list(&a[0], "find last")?.pop().unwrap_or(Value::Nil))
        });
    }
    for name in ["rest", "mustRest"] {
        map.add(name, &[Any], None, |a| {
            let items = as_list(&a[0], "find rest")?;
            list(items.into_iter().skip(1).collect())
        });
    }
    for name in ["initial", "mustInitial"] {
        map.add(name, &[Any], None, |a| {
            let mut items = as_list(&a[0], "find initial")?;
            items.pop();
            list(items)
        });
    }
    for name in ["reverse", "mustReverse"] {
        map.add(name, &[Any], None, |a| {
            let mut items = as_list(&a[0], "find reverse")?;
            items.reverse();
            list(items)
        });
    }
    for name in ["compact", "mustCompact"] {
        map.add(name, &[Any], None, |a| {
            list(
                as_list(&a[0], "compact")?
                    .into_iter()
                    .filter(|v| !is_empty(v))
                    .collect(),
            )
        });
    }
    for name in ["uniq", "mustUniq"] {
        map.add(name, &[Any], None, |a| {
            let mut out: Vec<Value> = Vec::new();
            for (i, item) in as_list(&a[0], "find uniq")?.into_iter().enumerate() {
                // Quadratic, as in Sprig: a long list must not outlive the deadline.
                if i % 1024 == 0 {
                    crate::limits::check_deadline()?;
                }
                if !out.contains(&item) {
                    out.push(item);
                }
            }
            list(out)
        });
    }
    for name in ["without", "mustWithout"] {
        map.add(name, &[Any], Some(Any), |a| {
            let omit = &a[1..];
            list(
                as_list(&a[0], "find without")?
                    .into_iter()
                    .filter(|v| !omit.contains(v))
                    .collect(),
            )
        });
    }
    for name in ["chunk", "mustChunk"] {
        map.add(name, &[Int, Any], None, |a| {
            let size = usize::try_from(int_at(&a, 0))
                .ok()
                .filter(|s| *s > 0)
                .ok_or("chunk size must be positive")?;
            let items = as_list(&a[1], "chunk")?;
            list(
                items
                    .chunks(size)
                    .map(|c| Value::List(c.to_vec()))
                    .collect(),
            )
        });
    }
}

fn slice_list(items: Vec<Value>, indices: &[Value]) -> FuncResult {
    if items.is_empty() {
        return Ok(Value::Nil);
    }
    let start = indices.first().map_or(0, to_int64);
    let end = indices.get(1).map_or(items.len() as i64, to_int64);
    let bounds = usize::try_from(start).ok().zip(usize::try_from(end).ok());
    match bounds {
        Some((s, e)) if s <= e && e <= items.len() => list(items[s..e].to_vec()),
        _ => Err("slice bounds out of range".to_owned()),
    }
}

fn register_list_queries(map: &mut FuncMap) {
    for name in ["has", "mustHas"] {
        map.add(name, &[Any, Any], None, |a| match &a[1] {
            Value::Nil => Ok(Value::Bool(false)),
            Value::List(items) => Ok(Value::Bool(items.contains(&a[0]))),
            other => Err(format!("Cannot find has on type {}", other.go_kind())),
        });
    }
    for name in ["slice", "mustSlice"] {
        map.add(name, &[Any], Some(Any), |a| match &a[0] {
            Value::List(items) => slice_list(items.clone(), &a[1..]),
            other => Err(format!(
                "list should be type of slice or array but {}",
                other.go_kind()
            )),
        });
    }
    map.add("concat", &[], Some(Any), |a| {
        let mut out = Vec::new();
        for item in &a {
            out.extend(as_list(item, "concat")?);
        }
        Ok(if out.is_empty() {
            Value::Nil
        } else {
            Value::List(out)
        })
    });
}

fn register_dicts(map: &mut FuncMap) {
    map.add("dict", &[], Some(Any), |a| {
        let mut out = BTreeMap::new();
        for pair in a.chunks(2) {
            out.insert(
                strval(&pair[0]),
                pair.get(1).cloned().unwrap_or(Value::from("")),
            );
        }
        Ok(Value::Map(out))
    });
    map.add("get", &[Map, Str], None, |a| {
        Ok(as_map(&a[0])
            .remove(bytes_at(&a, 1))
            .unwrap_or(Value::from("")))
    });
    map.add("set", &[Map, Str, Any], None, |a| {
        if a[0] == Value::Nil {
            return Err("assignment to entry in nil map".to_owned());
        }
        let mut m = as_map(&a[0]);
        m.insert(GoString::from(bytes_at(&a, 1)), a[2].clone());
        Ok(Value::Map(m))
    });
    map.add("unset", &[Map, Str], None, |a| {
        let mut m = as_map(&a[0]);
        m.remove(bytes_at(&a, 1));
        Ok(Value::Map(m))
    });
    map.add("hasKey", &[Map, Str], None, |a| {
        Ok(Value::Bool(as_map(&a[0]).contains_key(bytes_at(&a, 1))))
    });
    map.add("pluck", &[Str], Some(Map), |a| {
        let key = bytes_at(&a, 0);
        list(
            a[1..]
                .iter()
                .filter_map(|d| as_map(d).remove(key))
                .collect(),
        )
    });
    map.add("keys", &[], Some(Map), |a| {
        let mut keys: Vec<Value> = Vec::new();
        for d in &a {
            keys.extend(as_map(d).into_keys().map(Value::String));
        }
        list(keys)
    });
    map.add("values", &[Map], None, |a| {
        list(as_map(&a[0]).into_values().collect())
    });
    map.add("pick", &[Map], Some(Str), |a| {
        let mut source = as_map(&a[0]);
        let picked = a[1..]
            .iter()
            .filter_map(|k| match k {
                Value::String(k) => source.remove_entry(k),
                _ => None,
            })
            .collect();
        Ok(Value::Map(picked))
    });
    map.add("omit", &[Map], Some(Str), |a| {
        let mut m = as_map(&a[0]);
        for k in &a[1..] {
            if let Value::String(k) = k {
                m.remove(k);
            }
        }
        Ok(Value::Map(m))
    });
    for name in ["merge", "mustMerge"] {
        map.add(name, &[Map], Some(Map), |a| merge_maps(&a, false));
    }
    for name in ["mergeOverwrite", "mustMergeOverwrite"] {
        map.add(name, &[Map], Some(Map), |a| merge_maps(&a, true));
    }
    map.add("dig", &[], Some(Any), dig);
}

/// mergo's deep merge: maps merge recursively; other values fill only empty destinations
/// (or always, when overwriting with a non-empty source). A nil source value is copied only
/// when overwriting, even over a missing key (mergo skips nil interfaces otherwise).
fn merge_into(
    dst: &mut BTreeMap<GoString, Value>,
    src: &BTreeMap<GoString, Value>,
    overwrite: bool,
) {
    for (key, value) in src {
        if *value == Value::Nil {
            if overwrite {
                dst.insert(key.clone(), Value::Nil);
            }
            continue;
        }
        match (dst.get_mut(key), value) {
            (Some(Value::Map(d)), Value::Map(s)) => merge_into(d, s, overwrite),
            (Some(existing), v) => {
                if (overwrite && !is_empty(v)) || is_empty(existing) {
                    *existing = v.clone();
                }
            }
            (None, v) => {
                dst.insert(key.clone(), v.clone());
            }
        }
    }
}

fn merge_maps(a: &[Value], overwrite: bool) -> FuncResult {
    let mut dst = as_map(&a[0]);
    for src in &a[1..] {
        merge_into(&mut dst, &as_map(src), overwrite);
    }
    Ok(Value::Map(dst))
}

/// Go's message for a failed type assertion of an `interface{}` holding `value` to `want`.
fn interface_conversion(value: &Value, want: &str) -> String {
    let found = match value {
        Value::Nil => "nil",
        other => other.go_type(),
    };
    format!("interface conversion: interface {{}} is {found}, not {want}")
}

/// Sprig's `dig`: its type assertions (the last argument to `map[string]interface{}`, the
/// keys to `string`, each step to a map again) fail with Go's messages.
fn dig(a: Vec<Value>) -> FuncResult {
    const MAP: &str = "map[string]interface {}";
    if a.len() < 3 {
        return Err("dig needs at least three arguments".to_owned());
    }
    let (keys, rest) = a.split_at(a.len() - 2);
    let default = &rest[0];
    let Value::Map(mut current) = rest[1].clone() else {
        return Err(interface_conversion(&rest[1], MAP));
    };
    let mut names = Vec::with_capacity(keys.len());
    for key in keys {
        match key {
            Value::String(key) => names.push(key),
            other => return Err(interface_conversion(other, "string")),
        }
    }
    for (i, key) in names.into_iter().enumerate() {
        let Some(step) = current.remove(key) else {
            return Ok(default.clone());
        };
        if i == keys.len() - 1 {
            return Ok(step);
        }
        match step {
            Value::Map(m) => current = m,
            other => return Err(interface_conversion(&other, MAP)),
        }
    }
    Ok(default.clone())
}
