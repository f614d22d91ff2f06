//! Finishing the widget app after Trunk: what the chat costs a visitor when it opens, made as
//! small as it can be without touching what it does.
//!
//! Trunk leaves `natter-widget-<hash>.js` (wasm-bindgen's glue) and `…_bg.wasm` unoptimised
//! (`data-wasm-opt="0"` in `widget/index.html`). Here, in order:
//! 1. Leptos pulls in `server_fn`, which pulls in `wasm-streams`, whose three
//!    `#[wasm_bindgen]` classes are exported whether used or not. Their exports come out of the
//!    module and their classes out of the glue, so wasm-opt can drop what only they used.
//! 2. wasm-opt optimises for size ([`WASM_OPT_PASSES`]).
//! 3. Every import and export gets a short name, in the module and in the glue. wasm-bindgen's
//!    names carry a 16-hex-digit hash each (`__wbg_addEventListener_847fd86b8c33ec43`), which
//!    no compressor can shrink, and each name is in both files: about 5.5 KB of the download
//!    (brotli).
//!    Custom sections (`producers`, `target_features`) go too.
//! 4. terser minifies the glue.
//! 5. Both files are named by the hash of what they now contain, so a change to any step
//!    above, not only to the Rust source, reaches browsers despite the year-long cache.
//!
//! The browser tests run against this output, so a wrong rename fails them; so does any edit
//! that does not find the glue it expects (`glue.rs`).

mod glue;
mod wasm_names;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::shell::{command, run};
use wasm_names::Module;

/// After -Oz, a flatten/re-loop round and two more -Oz passes (about 2 KB less to download,
/// measured with brotli), all repeated while they still shrink the module (`--converge`:
/// another 0.4 KB for about 20 s of build time).
const WASM_OPT_PASSES: &[&str] = &[
    "-Oz",
    "--flatten",
    "--rereloop",
    "-Oz",
    "-Oz",
    "--merge-similar-functions",
    "-Oz",
    "--converge",
];
/// The file stem Trunk gives the widget's app (the crate name).
const APP_STEM: &str = "natter-widget";
/// Classes wasm-bindgen exports for `wasm-streams`, which nothing in the widget uses.
const UNUSED_CLASSES: [&str; 3] = [
    "IntoUnderlyingByteSource",
    "IntoUnderlyingSink",
    "IntoUnderlyingSource",
];
/// Where the intermediate files of [`finish`] go (under the workspace root).
const SCRATCH_DIR: &str = "target/widget-app";
/// The glue imports the module under this name; the module's imports say which.
const GLUE_MODULE: &str = "w";

pub fn finish(dist: &Path) -> Result<()> {
    let (glue_path, wasm_path) = app_files(dist)?;
    let glue = std::fs::read_to_string(&glue_path)
        .with_context(|| format!("reading {}", glue_path.display()))?;
    let module = Module::parse(&std::fs::read(&wasm_path)?)
        .with_context(|| format!("reading {}", wasm_path.display()))?;

    let (glue, module) = drop_unused_classes(glue, module)?;
    // Intermediate files live outside `dist`: a step that fails must not leave a
    // `natter-widget*.js` there for the relay to take for the app.
    let scratch = crate::shell::root().join(SCRATCH_DIR);
    std::fs::create_dir_all(&scratch)?;
    let optimised = scratch.join("optimised.wasm");
    let unoptimised = scratch.join("unoptimised.wasm");
    std::fs::write(&unoptimised, module.encode())?;
    run(command("wasm-opt")
        .args(WASM_OPT_PASSES)
        .arg(&unoptimised)
        .arg("-o")
        .arg(&optimised))?;
    let module = Module::parse(&std::fs::read(&optimised)?)?;

    let (glue, mut module) = shorten_names(&glue, module)?;
    module.drop_custom_sections();
    let wasm = module.encode();
    let wasm_name = format!("{APP_STEM}-{}_bg.wasm", content_hash(&wasm));
    std::fs::write(dist.join(&wasm_name), &wasm)?;

    let old_wasm_name = file_name(&wasm_path);
    let glue = glue.replace(&old_wasm_name, &wasm_name);
    let minified = scratch.join("glue.js");
    std::fs::write(&minified, glue)?;
    minify(&minified)?;
    let glue = std::fs::read(&minified)?;
    let glue_name = format!("{APP_STEM}-{}.js", content_hash(&glue));
    std::fs::write(dist.join(&glue_name), &glue)?;

    for (old, new) in [(&glue_path, &glue_name), (&wasm_path, &wasm_name)] {
        if file_name(old) != *new {
            std::fs::remove_file(old)?;
        }
    }
    // Trunk's page lists the old names; nothing loads it, but it should not lie.
    let page = dist.join("index.html");
    let html = std::fs::read_to_string(&page)?
        .replace(&file_name(&glue_path), &glue_name)
        .replace(&old_wasm_name, &wasm_name);
    std::fs::write(page, html)?;
    Ok(())
}

/// Step 1: the `wasm-streams` classes out of the module's exports and the glue.
fn drop_unused_classes(mut glue: String, mut module: Module) -> Result<(String, Module)> {
    for class in UNUSED_CLASSES {
        glue = glue::remove_class(&glue, class)?;
    }
    let prefixes: Vec<String> = UNUSED_CLASSES
        .iter()
        .map(|class| class.to_lowercase())
        .collect();
    let before = module.exports.len();
    module.exports.retain(|export| {
        let name = export.name.trim_start_matches("__wbg_");
        !prefixes
            .iter()
            .any(|prefix| name.starts_with(prefix.as_str()))
    });
    if module.exports.len() == before {
        bail!("the module exports none of {UNUSED_CLASSES:?}'s methods");
    }
    Ok((glue, module))
}

/// Step 3: short names for every import and export, in the module and in the glue.
fn shorten_names(glue: &str, mut module: Module) -> Result<(String, Module)> {
    let Some(old_module) = module.imports.first().map(|import| import.module.clone()) else {
        bail!("the module imports nothing");
    };
    let mut imports = HashMap::new();
    for (index, import) in module.imports.iter_mut().enumerate() {
        if import.module != old_module {
            bail!("the module imports from {} too", import.module);
        }
        let short = glue::short_name(index);
        imports.insert(std::mem::replace(&mut import.name, short.clone()), short);
        import.module = GLUE_MODULE.to_owned();
    }
    let glue = glue::rewrite_imports(glue, &old_module, GLUE_MODULE, &imports)?;
    let mut exports = HashMap::new();
    for (index, export) in module.exports.iter_mut().enumerate() {
        let short = glue::short_name(index);
        exports.insert(std::mem::replace(&mut export.name, short.clone()), short);
    }
    let glue = glue::rename_exports(&glue, &exports)?;
    Ok((glue, module))
}

/// terser, as for the loader: two compress passes, mangled names, no comments.
fn minify(path: &Path) -> Result<()> {
    let path = path.to_string_lossy();
    run(command("terser").args([
        &*path,
        "--module",
        "--compress",
        "passes=2",
        "--mangle",
        "--comments",
        "false",
        "--output",
        &*path,
    ]))
}

/// Trunk's `natter-widget-<hash>.js` and `natter-widget-<hash>_bg.wasm`.
fn app_files(dist: &Path) -> Result<(PathBuf, PathBuf)> {
    let (mut glue, mut wasm) = (None, None);
    for entry in std::fs::read_dir(dist).with_context(|| format!("{}", dist.display()))? {
        let path = entry?.path();
        let name = file_name(&path);
        if !name.starts_with(APP_STEM) {
            continue;
        }
        if name.ends_with("_bg.wasm") {
            wasm = Some(path);
        } else if name.ends_with(".js") {
            glue = Some(path);
        }
    }
    match (glue, wasm) {
        (Some(glue), Some(wasm)) => Ok((glue, wasm)),
        _ => bail!("no {APP_STEM}-*.js and *_bg.wasm in {}", dist.display()),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// 64-bit FNV-1a as 16 hex digits: stable across toolchains, enough to tell builds apart.
fn content_hash(bytes: &[u8]) -> String {
    format!("{:016x}", crate::fingerprint::fnv1a_64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_fnv1a() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_eq!(content_hash(b"a"), "af63dc4c8601ec8c");
    }
}
