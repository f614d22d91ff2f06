//! Edits to the JS glue that wasm-bindgen 0.2.130 writes for `--target web`, matching what
//! [`super`] did to the module: classes taken out, imports renamed or dropped, exports renamed.
//!
//! The edits rely on the glue's layout (the import object `import0` with one entry per import at
//! eight spaces of indentation; `wasm.<export>` for every use of an export). wasm-bindgen is
//! pinned (`Cargo.toml`, `Trunk.toml`); if a new version writes something else, every edit that
//! does not find what it expects fails the build instead of shipping a broken widget.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

const IMPORT_OBJECT_START: &str = "    const import0 = {\n";
const IMPORT_OBJECT_END: &str = "\n    };\n";
const IMPORT_ENTRY_INDENT: &str = "        ";

/// Removes an exported class, its `Symbol.dispose` alias and its finalization registry.
pub fn remove_class(glue: &str, class: &str) -> Result<String> {
    let start_marker = format!("export class {class} {{\n");
    let end_marker = format!(
        "if (Symbol.dispose) {class}.prototype[Symbol.dispose] = {class}.prototype.free;\n"
    );
    let start = glue
        .find(&start_marker)
        .with_context(|| format!("the glue has no class {class}"))?;
    let end = glue[start..]
        .find(&end_marker)
        .map(|offset| start + offset + end_marker.len())
        .with_context(|| format!("the glue's class {class} does not end as expected"))?;
    let glue = format!("{}{}", &glue[..start], &glue[end..]);

    let registry = format!("const {class}Finalization = ");
    let start = glue
        .find(&registry)
        .with_context(|| format!("the glue has no {class}Finalization"))?;
    let end = glue[start..]
        .find(";\n")
        .map(|offset| start + offset + 2)
        .with_context(|| format!("{class}Finalization does not end"))?;
    Ok(format!("{}{}", &glue[..start], &glue[end..]))
}

/// Renames the import object's entries (`renames`: old name → new name), drops the entries
/// the module no longer imports, and renames the import module.
pub fn rewrite_imports(
    glue: &str,
    old_module: &str,
    new_module: &str,
    renames: &HashMap<String, String>,
) -> Result<String> {
    let start = glue
        .find(IMPORT_OBJECT_START)
        .context("the glue has no import object")?
        + IMPORT_OBJECT_START.len();
    let end = glue[start..]
        .find(IMPORT_OBJECT_END)
        .map(|offset| start + offset)
        .context("the glue's import object does not end")?;
    let mut entries = Vec::new();
    let mut found = 0;
    for entry in split_entries(&glue[start..end]) {
        let Some(key) = entry_key(entry) else {
            // `__proto__: null` and the like.
            entries.push(entry.to_owned());
            continue;
        };
        if let Some(new) = renames.get(key) {
            found += 1;
            let value = &entry[IMPORT_ENTRY_INDENT.len() + key.len()..];
            entries.push(format!("{IMPORT_ENTRY_INDENT}{new}{value}"));
        }
    }
    if found != renames.len() {
        bail!(
            "the module imports {} functions the glue does not define ({found} found)",
            renames.len() - found
        );
    }
    let tail = &glue[end..];
    let old_binding = format!("\"{old_module}\": import0");
    if !tail.contains(&old_binding) {
        bail!("the glue does not bind import0 to {old_module:?}");
    }
    let tail = tail.replacen(&old_binding, &format!("\"{new_module}\": import0"), 1);
    Ok(format!("{}{}{tail}", &glue[..start], entries.join("\n")))
}

/// Renames every `wasm.<old>` to `wasm.<new>`; fails if any `wasm.<name>` is left that the
/// module does not export.
pub fn rename_exports(glue: &str, renames: &HashMap<String, String>) -> Result<String> {
    const PREFIX: &str = "wasm.";
    let mut out = String::with_capacity(glue.len());
    let mut rest = glue;
    while let Some(at) = rest.find(PREFIX) {
        let before = &rest[..at];
        out.push_str(before);
        let after = &rest[at + PREFIX.len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        // `wasm.` inside a longer identifier (`somewasm.x`) is not a use of the exports.
        let is_use = !before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        match renames.get(name) {
            Some(new) if is_use => {
                out.push_str(PREFIX);
                out.push_str(new);
            }
            None if is_use => bail!("the glue uses wasm.{name}, which the module does not export"),
            _ => {
                out.push_str(PREFIX);
                out.push_str(name);
            }
        }
        rest = &after[name_len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The import object's body split before every line that starts an entry.
fn split_entries(body: &str) -> Vec<&str> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        if offset > 0 && entry_key(line).is_some() {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(body.len());
    starts
        .windows(2)
        .map(|pair| body[pair[0]..pair[1]].trim_end_matches('\n'))
        .collect()
}

/// `key` for a line `        key: …` (an entry at the import object's own indentation).
fn entry_key(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(IMPORT_ENTRY_INDENT)?;
    let key_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))?;
    (key_len > 0 && rest[key_len..].starts_with(": ") && key_len < rest.len())
        .then(|| &rest[..key_len])
        .filter(|key| *key != "__proto__")
}

/// The next short JS/wasm identifier: `a` … `z`, `A` … `Z`, then `aa`, `ba`, ….
pub fn short_name(mut index: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = String::new();
    loop {
        name.push(char::from(LETTERS[index % LETTERS.len()]));
        index /= LETTERS.len();
        if index == 0 {
            return name;
        }
        index -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of wasm-bindgen 0.2.130's `--target web` glue, cut down.
    const GLUE: &str = r#"export class IntoUnderlyingSink {
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_intounderlyingsink_free(ptr, 0);
    }
}
if (Symbol.dispose) IntoUnderlyingSink.prototype[Symbol.dispose] = IntoUnderlyingSink.prototype.free;

export function mount(boot) {
    wasm.mount(boot);
}
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_addEventListener_847fd86b8c33ec43: function() { return handleError(function (arg0, arg1) {
            arg0.addEventListener(getStringFromWasm0(arg1, 2), 3);
        }, arguments); },
        __wbg_byobRequest_18280c78e462544c: function(arg0) {
            const ret = arg0.byobRequest;
            return ret;
        },
        __wbg_body_5f971cbc6950ca4f: function(arg0) {
            const ret = arg0.body;
            return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
        },
    };
    return {
        __proto__: null,
        "./natter-widget_bg.js": import0,
    };
}
const IntoUnderlyingSinkFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_intounderlyingsink_free(ptr, 1));

function addToExternrefTable0(obj) {
    const idx = wasm.__externref_table_alloc();
    return idx;
}
"#;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(old, new)| ((*old).to_owned(), (*new).to_owned()))
            .collect()
    }

    #[test]
    fn removes_a_class_and_its_registry() -> Result<()> {
        let glue = remove_class(GLUE, "IntoUnderlyingSink")?;
        assert!(!glue.contains("IntoUnderlyingSink"));
        assert!(glue.starts_with("\nexport function mount"));
        assert!(glue.contains("function addToExternrefTable0"));
        assert!(remove_class(&glue, "IntoUnderlyingSink").is_err());
        Ok(())
    }

    #[test]
    fn renames_kept_imports_and_drops_the_rest() -> Result<()> {
        let renames = map(&[
            ("__wbg_addEventListener_847fd86b8c33ec43", "a"),
            ("__wbg_body_5f971cbc6950ca4f", "b"),
        ]);
        let glue = rewrite_imports(GLUE, "./natter-widget_bg.js", "w", &renames)?;
        assert!(glue.contains("        a: function() { return handleError("));
        assert!(glue.contains("            arg0.addEventListener(getStringFromWasm0(arg1, 2), 3);\n        }, arguments); },\n        b: function(arg0) {"));
        assert!(!glue.contains("byobRequest"));
        assert!(glue.contains("        __proto__: null,\n        a: "));
        assert!(glue.contains(
            "return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);\n        },\n    };"
        ));
        assert!(glue.contains("\"w\": import0"));
        Ok(())
    }

    #[test]
    fn an_import_the_glue_lacks_fails() {
        let renames = map(&[("__wbg_missing_0000", "a")]);
        assert!(rewrite_imports(GLUE, "./natter-widget_bg.js", "w", &renames).is_err());
        assert!(rewrite_imports(GLUE, "./other_bg.js", "w", &map(&[])).is_err());
    }

    #[test]
    fn renames_every_use_of_an_export() -> Result<()> {
        let glue = remove_class(GLUE, "IntoUnderlyingSink")?;
        let renames = map(&[("mount", "a"), ("__externref_table_alloc", "b")]);
        let glue = rename_exports(&glue, &renames)?;
        assert!(glue.contains("    wasm.a(boot);"));
        assert!(glue.contains("const idx = wasm.b();"));
        // An export the module lost is an error, not a runtime crash.
        assert!(rename_exports(GLUE, &renames).is_err());
        Ok(())
    }

    #[test]
    fn short_names_are_unique() {
        let names: std::collections::HashSet<_> = (0..3000).map(short_name).collect();
        assert_eq!(names.len(), 3000);
        assert_eq!(short_name(0), "a");
        assert_eq!(short_name(51), "Z");
        assert_eq!(short_name(52), "aa");
    }
}
