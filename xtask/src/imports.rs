//! The import section of a WebAssembly module: just enough of the binary format to list
//! what a module imports and from where (spec §5.5.5). Hand-written rather than a parser
//! crate: a few dozen lines, and nothing that can drift from the bindgen pin.

use core::fmt;

/// One import: `module.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Import {
    pub(crate) module: String,
    pub(crate) name: String,
}

/// Why a file could not be read as a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(&'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a valid wasm module: {}", self.0)
    }
}

const MAGIC: &[u8] = b"\0asm";
const VERSION_1: [u8; 4] = [1, 0, 0, 0];
const IMPORT_SECTION: u8 = 2;

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Malformed> {
        let (&b, rest) = self.bytes.split_first().ok_or(Malformed("truncated"))?;
        self.bytes = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.bytes.len() {
            return Err(Malformed("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// An unsigned LEB128 of at most 32 bits.
    fn u32(&mut self) -> Result<u32, Malformed> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u32::from(b & 0x7f)
                .checked_shl(shift)
                .ok_or(Malformed("LEB128 too long"))?;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed("LEB128 too long"))
    }

    fn name(&mut self) -> Result<String, Malformed> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Malformed("name is not UTF-8"))
    }

    /// Skips an import's description (function, table, memory, global or tag type).
    fn skip_import_desc(&mut self) -> Result<(), Malformed> {
        let limits = |r: &mut Self| -> Result<(), Malformed> {
            let flags = r.byte()?;
            r.u32()?;
            if flags & 1 != 0 {
                r.u32()?;
            }
            Ok(())
        };
        match self.byte()? {
            0x00 => {
                self.u32()?; // type index
            }
            0x01 => {
                self.byte()?; // reference type
                limits(self)?;
            }
            0x02 => limits(self)?,
            0x03 => {
                self.byte()?; // value type
                self.byte()?; // mutability
            }
            0x04 => {
                self.byte()?; // tag attribute
                self.u32()?; // type index
            }
            _ => return Err(Malformed("unknown import kind")),
        }
        Ok(())
    }
}

/// Every import of a module, in order.
pub(crate) fn modules(wasm: &[u8]) -> Result<Vec<Import>, Malformed> {
    let mut r = Reader { bytes: wasm };
    if r.take(4)? != MAGIC || r.take(4)? != VERSION_1 {
        return Err(Malformed("bad header"));
    }
    while !r.bytes.is_empty() {
        let id = r.byte()?;
        let len = r.u32()? as usize;
        let body = r.take(len)?;
        if id != IMPORT_SECTION {
            continue;
        }
        let mut s = Reader { bytes: body };
        let count = s.u32()?;
        let mut imports = Vec::new();
        for _ in 0..count {
            let module = s.name()?;
            let name = s.name()?;
            s.skip_import_desc()?;
            imports.push(Import { module, name });
        }
        return Ok(imports);
    }
    Ok(Vec::new())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A module with a type section and two function imports, `env.clock` and `js.log`.
    pub(crate) fn module_with_imports() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // Type section: one type, () -> ().
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut imports = vec![2]; // two entries
        for (module, name) in [("env", "clock"), ("js", "log")] {
            imports.push(module.len() as u8);
            imports.extend_from_slice(module.as_bytes());
            imports.push(name.len() as u8);
            imports.extend_from_slice(name.as_bytes());
            imports.extend_from_slice(&[0x00, 0x00]); // func, type 0
        }
        m.push(IMPORT_SECTION);
        m.push(imports.len() as u8);
        m.extend_from_slice(&imports);
        m
    }

    #[test]
    fn lists_imports_with_their_modules() {
        let imports = modules(&module_with_imports()).unwrap();
        let pairs: Vec<_> = imports
            .iter()
            .map(|i| (i.module.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(pairs, [("env", "clock"), ("js", "log")]);
    }

    #[test]
    fn a_module_without_imports_has_none() {
        assert_eq!(modules(b"\0asm\x01\0\0\0").unwrap(), []);
    }

    #[test]
    fn truncation_is_an_error_not_a_panic() {
        let m = module_with_imports();
        // Cut after the header, or after the type section, the rest is a valid module
        // without imports; anywhere else it is malformed.
        let whole_sections = [8, 14];
        for cut in 0..m.len() {
            if whole_sections.contains(&cut) {
                assert_eq!(modules(&m[..cut]), Ok(vec![]));
                continue;
            }
            assert!(modules(&m[..cut]).is_err(), "cut at {cut}");
        }
    }
}
