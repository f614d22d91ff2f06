//! Reading and rewriting the names in a WebAssembly module's import and export sections; every
//! other section is copied byte for byte.
//!
//! Just enough of the binary format (<https://webassembly.github.io/spec/core/binary/>) for
//! [`super`]: sections, LEB128 integers, names, import descriptors. A module this does not
//! understand is an error, never a silently different module.

use anyhow::{bail, Context, Result};

const MAGIC_AND_VERSION: [u8; 8] = *b"\0asm\x01\0\0\0";
const CUSTOM_SECTION: u8 = 0;
const IMPORT_SECTION: u8 = 2;
const EXPORT_SECTION: u8 = 7;

/// One import: `module`.`name`, with its descriptor (kind and type) kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    pub name: String,
    descriptor: Vec<u8>,
}

/// One export: `name`, with its kind and index kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    descriptor: Vec<u8>,
}

/// A module split into sections, with the import and export sections decoded.
#[derive(Debug, Clone)]
pub struct Module {
    sections: Vec<(u8, Vec<u8>)>,
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
}

impl Module {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.get(..8) != Some(&MAGIC_AND_VERSION[..]) {
            bail!("not a WebAssembly 1.0 module");
        }
        let mut reader = Reader { bytes, at: 8 };
        let (mut sections, mut imports, mut exports) = (Vec::new(), Vec::new(), Vec::new());
        while !reader.done() {
            let id = reader.byte()?;
            let size = reader.u32()? as usize;
            let payload = reader.take(size)?;
            match id {
                IMPORT_SECTION => imports = read_imports(payload)?,
                EXPORT_SECTION => exports = read_exports(payload)?,
                _ => {}
            }
            sections.push((id, payload.to_vec()));
        }
        Ok(Self {
            sections,
            imports,
            exports,
        })
    }

    /// Drops the custom sections (`producers`, `target_features` and the like): metadata no
    /// browser reads.
    pub fn drop_custom_sections(&mut self) {
        self.sections.retain(|(id, _)| *id != CUSTOM_SECTION);
    }

    /// The module with the current [`Self::imports`] and [`Self::exports`] written back.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC_AND_VERSION.to_vec();
        for (id, payload) in &self.sections {
            let payload = match *id {
                IMPORT_SECTION => encode_imports(&self.imports),
                EXPORT_SECTION => encode_exports(&self.exports),
                _ => payload.clone(),
            };
            out.push(*id);
            write_u32(&mut out, payload.len() as u32);
            out.extend_from_slice(&payload);
        }
        out
    }
}

fn read_imports(payload: &[u8]) -> Result<Vec<Import>> {
    let mut reader = Reader {
        bytes: payload,
        at: 0,
    };
    let count = reader.u32()?;
    let mut imports = Vec::new();
    for _ in 0..count {
        let module = reader.name()?;
        let name = reader.name()?;
        let start = reader.at;
        match reader.byte()? {
            // A function: its type index.
            0x00 => {
                reader.u32()?;
            }
            // A table: its element type, then limits.
            0x01 => {
                reader.byte()?;
                reader.limits()?;
            }
            0x02 => reader.limits()?,
            // A global: value type, mutability.
            0x03 => {
                reader.take(2)?;
            }
            // A tag: attribute, type index.
            0x04 => {
                reader.byte()?;
                reader.u32()?;
            }
            kind => bail!("import {module}.{name} has unknown kind {kind:#x}"),
        }
        let descriptor = payload[start..reader.at].to_vec();
        imports.push(Import {
            module,
            name,
            descriptor,
        });
    }
    Ok(imports)
}

fn read_exports(payload: &[u8]) -> Result<Vec<Export>> {
    let mut reader = Reader {
        bytes: payload,
        at: 0,
    };
    let count = reader.u32()?;
    let mut exports = Vec::new();
    for _ in 0..count {
        let name = reader.name()?;
        let start = reader.at;
        reader.byte()?;
        reader.u32()?;
        exports.push(Export {
            name,
            descriptor: payload[start..reader.at].to_vec(),
        });
    }
    Ok(exports)
}

fn encode_imports(imports: &[Import]) -> Vec<u8> {
    let mut out = Vec::new();
    write_u32(&mut out, imports.len() as u32);
    for import in imports {
        write_name(&mut out, &import.module);
        write_name(&mut out, &import.name);
        out.extend_from_slice(&import.descriptor);
    }
    out
}

fn encode_exports(exports: &[Export]) -> Vec<u8> {
    let mut out = Vec::new();
    write_u32(&mut out, exports.len() as u32);
    for export in exports {
        write_name(&mut out, &export.name);
        out.extend_from_slice(&export.descriptor);
    }
    out
}

fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    write_u32(out, name.len() as u32);
    out.extend_from_slice(name.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn byte(&mut self) -> Result<u8> {
        let byte = *self
            .bytes
            .get(self.at)
            .context("unexpected end of module")?;
        self.at += 1;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).context("length overflow")?;
        let slice = self
            .bytes
            .get(self.at..end)
            .context("unexpected end of module")?;
        self.at = end;
        Ok(slice)
    }

    /// An unsigned LEB128 integer of at most 32 bits.
    fn u32(&mut self) -> Result<u32> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return u32::try_from(value).context("integer too large");
            }
        }
        bail!("integer too long")
    }

    fn name(&mut self) -> Result<String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        Ok(std::str::from_utf8(bytes)
            .context("name is not UTF-8")?
            .to_owned())
    }

    /// Limits: a flag, the minimum, and the maximum when flagged (memory64 and shared memory
    /// flags keep the same layout for 32-bit values).
    fn limits(&mut self) -> Result<()> {
        let flags = self.byte()?;
        self.u32()?;
        if flags & 1 != 0 {
            self.u32()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `env.log` (function) and `env.mem` (memory, min 1 max 2) and
    /// exporting `run` (function 0), with a type section and a code section to carry along.
    fn sample() -> Vec<u8> {
        let mut module = MAGIC_AND_VERSION.to_vec();
        // Type section: one type, () -> ().
        module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut imports = Vec::new();
        write_u32(&mut imports, 2);
        write_name(&mut imports, "env");
        write_name(&mut imports, "log");
        imports.extend_from_slice(&[0x00, 0]);
        write_name(&mut imports, "env");
        write_name(&mut imports, "mem");
        imports.extend_from_slice(&[0x02, 1, 1, 2]);
        module.push(IMPORT_SECTION);
        write_u32(&mut module, imports.len() as u32);
        module.extend_from_slice(&imports);
        // Function section: one function of type 0.
        module.extend_from_slice(&[3, 2, 1, 0]);
        let mut exports = Vec::new();
        write_u32(&mut exports, 1);
        write_name(&mut exports, "run");
        exports.extend_from_slice(&[0x00, 1]);
        module.push(EXPORT_SECTION);
        write_u32(&mut module, exports.len() as u32);
        module.extend_from_slice(&exports);
        // Code section: one empty body.
        module.extend_from_slice(&[10, 4, 1, 2, 0, 0x0b]);
        module
    }

    #[test]
    fn reads_and_writes_back_the_same_bytes() -> Result<()> {
        let bytes = sample();
        let module = Module::parse(&bytes)?;
        let names: Vec<_> = module.imports.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["log", "mem"]);
        assert_eq!(module.exports[0].name, "run");
        assert_eq!(module.encode(), bytes);
        Ok(())
    }

    #[test]
    fn renames_and_removes_keep_the_rest() -> Result<()> {
        let mut module = Module::parse(&sample())?;
        module.imports[0].name = "a".into();
        module.imports[0].module = "w".into();
        module.exports.clear();
        let again = Module::parse(&module.encode())?;
        assert_eq!(again.imports[0].name, "a");
        assert_eq!(again.imports[0].module, "w");
        assert_eq!(again.imports[1], module.imports[1]);
        assert!(again.exports.is_empty());
        // Type, import, function, export, code: none lost.
        assert_eq!(again.sections.len(), 5);
        Ok(())
    }

    #[test]
    fn drops_custom_sections_only() -> Result<()> {
        let mut bytes = sample();
        // A custom section named "producers" with one byte of content.
        bytes.extend_from_slice(&[CUSTOM_SECTION, 11, 9]);
        bytes.extend_from_slice(b"producers");
        bytes.push(0);
        let mut module = Module::parse(&bytes)?;
        assert_eq!(module.sections.len(), 6);
        module.drop_custom_sections();
        assert_eq!(module.encode(), sample());
        Ok(())
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(Module::parse(b"\0asm\x02\0\0\0").is_err());
        let mut truncated = sample();
        truncated.truncate(truncated.len() - 3);
        assert!(Module::parse(&truncated).is_err());
    }
}
