//! Build-time compression of the front-ends' hashed assets: next to every `.wasm`, `.js`,
//! `.css` and `.html` in a Trunk `dist`, a `.br` (brotli, quality 11) and a `.gz` (gzip -9).
//!
//! The relay serves these files as they are (`ServeDir::precompressed_br/gzip`), so browsers get
//! the smallest encoding at no CPU cost per request; on-the-fly compression at request time
//! could only afford a low brotli quality. `cargo xtask size` measures these same files.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

/// Brotli's best quality and its largest standard window: slow to compress, which happens once
/// per build, and smallest to download, which happens on every visit.
const BROTLI_QUALITY: u32 = 11;
const BROTLI_WINDOW_BITS: u32 = 22;

/// The files worth compressing. The loader template (`natter.js`) is not served from `dist`:
/// the relay renders and compresses it itself.
fn compressible(name: &str) -> bool {
    name != "natter.js"
        && [".wasm", ".js", ".css", ".html"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

pub fn precompress(dist: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dist).with_context(|| format!("{}", dist.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_file() || !compressible(&name) {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        std::fs::write(dist.join(format!("{name}.br")), brotli(&bytes)?)?;
        std::fs::write(dist.join(format!("{name}.gz")), gzip(&bytes)?)?;
    }
    Ok(())
}

pub fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = ::brotli::CompressorWriter::new(
            &mut out,
            64 * 1024,
            BROTLI_QUALITY,
            BROTLI_WINDOW_BITS,
        );
        writer.write_all(bytes)?;
        writer.flush()?;
    }
    Ok(out)
}

pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}
