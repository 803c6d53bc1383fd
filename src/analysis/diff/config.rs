//! The runtime configs of A and B compared field by field: platform, user, workdir, entrypoint, cmd, and env
//! variables, labels and exposed ports by name.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{ConfigChange, Masks};
use crate::image::Image;

/// The runtime part of a config (`config` in the image config JSON).
fn runtime(image: &Image) -> &Value {
    &image.meta.config.raw["config"]
}

/// An array of strings as JSON (`["sh","-c","x y"]`), a string as it is, anything else as its JSON.
fn words(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Array(items) if items.iter().all(Value::is_string) => {
            Some(serde_json::to_string(items).unwrap_or_default())
        }
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `KEY=value` strings, or an object's members, as a map.
fn keyed(value: &Value) -> BTreeMap<String, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.to_string(), String::new()),
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

pub(super) fn config(a: &Image, b: &Image, masks: &Masks<'_>) -> Vec<ConfigChange> {
    let (ra, rb) = (runtime(a), runtime(b));
    let mut out = Vec::new();
    let mut single = |field: &'static str, x: Option<String>, y: Option<String>| {
        if x != y {
            out.push(ConfigChange {
                field,
                key: None,
                a: x.map(|v| masks.apply(&v)),
                b: y.map(|v| masks.apply(&v)),
            });
        }
    };
    single(
        "platform",
        Some(a.meta.platform.to_string()),
        Some(b.meta.platform.to_string()),
    );
    single(
        "user",
        words(&ra["User"]).filter(|s| !s.is_empty()),
        words(&rb["User"]).filter(|s| !s.is_empty()),
    );
    single(
        "workdir",
        words(&ra["WorkingDir"]).filter(|s| !s.is_empty()),
        words(&rb["WorkingDir"]).filter(|s| !s.is_empty()),
    );
    single(
        "entrypoint",
        words(&ra["Entrypoint"]),
        words(&rb["Entrypoint"]),
    );
    single("cmd", words(&ra["Cmd"]), words(&rb["Cmd"]));
    for (field, name) in [
        ("env", "Env"),
        ("labels", "Labels"),
        ("ports", "ExposedPorts"),
    ] {
        let (x, y) = (keyed(&ra[name]), keyed(&rb[name]));
        let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
        for key in keys {
            let (va, vb) = (x.get(key), y.get(key));
            if va != vb {
                // A port's value is an empty object: say only whether it is exposed.
                let shown = |v: Option<&String>| {
                    v.map(|v| masks.apply(if field == "ports" { key } else { v }))
                };
                out.push(ConfigChange {
                    field,
                    key: Some(masks.apply(key)),
                    a: shown(va),
                    b: shown(vb),
                });
            }
        }
    }
    out
}
