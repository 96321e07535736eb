//! A personality's registers as one table of rows: offset, instances (and
//! legacy aliases), reset value, write mask, what the register does (each
//! personality's own `B`) and a line of documentation. The device's reads,
//! writes and reset are driven by the table, and `docs/register-map.md` is
//! generated from it.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Legacy addresses that also reach a register array's first instances:
/// instance `i` (below `count`) at `base + i * stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias {
    pub base: u32,
    pub count: u32,
    pub stride: u32,
}

/// One register, or a register array, of a table.
#[derive(Debug, Clone, Copy)]
pub struct Reg<B: 'static> {
    pub name: &'static str,
    pub offset: u32,
    /// Number of instances; the i-th sits at `offset + i * stride`.
    pub count: u32,
    pub stride: u32,
    pub alias: Option<Alias>,
    pub reset: u32,
    /// Bits a guest write stores (the rest keep their value).
    pub write_mask: u32,
    /// What the register does beyond storing bits, in the personality's terms.
    pub behaviour: B,
    pub doc: &'static str,
}

impl<B: Copy> Reg<B> {
    /// One register, resetting to 0, every bit writable.
    pub const fn new(name: &'static str, offset: u32, behaviour: B, doc: &'static str) -> Self {
        Reg {
            name,
            offset,
            count: 1,
            stride: 4,
            alias: None,
            reset: 0,
            write_mask: u32::MAX,
            behaviour,
            doc,
        }
    }

    /// `count` instances, `stride` bytes apart.
    pub const fn times(mut self, count: u32, stride: u32) -> Self {
        self.count = count;
        self.stride = stride;
        self
    }

    pub const fn reset_to(mut self, value: u32) -> Self {
        self.reset = value;
        self
    }

    pub const fn masked(mut self, write_mask: u32) -> Self {
        self.write_mask = write_mask;
        self
    }

    pub const fn aliased(mut self, alias: Alias) -> Self {
        self.alias = Some(alias);
        self
    }

    /// Where instance `i` is stored (its canonical offset, not an alias).
    pub fn instance(&self, i: u32) -> u32 {
        self.offset + i * self.stride
    }

    /// Every offset that reaches the register, with the instance it reaches:
    /// the canonical ones first, then the aliases.
    pub fn offsets(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let canonical = (0..self.count).map(|i| (self.instance(i), i));
        let aliases = self
            .alias
            .into_iter()
            .flat_map(|a| (0..a.count).map(move |i| (a.base + i * a.stride, i)));
        canonical.chain(aliases)
    }
}

/// An offset index over a table, built on first use: every register access
/// asks (each doorbell among them), so every offset is indexed once rather
/// than the table searched (arrays interleave, so ranges alone do not order it).
pub struct Index(OnceLock<HashMap<u32, (u16, u32)>>);

impl Index {
    pub const fn new() -> Self {
        Index(OnceLock::new())
    }

    /// The row and instance `off` falls on. The first row that claims an
    /// offset wins, as a search in table order would find it.
    pub fn find<B: Copy>(
        &self,
        table: &'static [Reg<B>],
        off: u32,
    ) -> Option<(&'static Reg<B>, u32)> {
        let index = self.0.get_or_init(|| {
            let mut m = HashMap::new();
            for (t, r) in table.iter().enumerate() {
                for (at, i) in r.offsets() {
                    m.entry(at).or_insert((t as u16, i));
                }
            }
            m
        });
        index.get(&off).map(|&(t, i)| (&table[usize::from(t)], i))
    }
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

/// A Markdown table of `table`: name, offset (and aliases), instances, reset
/// value, write mask, the personality's own `columns`, then the doc line.
pub fn markdown<B: Copy>(
    table: &[Reg<B>],
    columns: &[&str],
    cells: impl Fn(&B) -> Vec<String>,
) -> String {
    let mut head = vec![
        "register",
        "offset",
        "count x stride",
        "reset",
        "write mask",
    ];
    head.extend_from_slice(columns);
    head.push("semantics");
    let mut s = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for r in table {
        let mut at = format!("{:#08x}", r.offset);
        if let Some(a) = r.alias {
            at.push_str(&format!(
                " (0-{}: also {:#08x} x {:#x})",
                a.count - 1,
                a.base,
                a.stride
            ));
        }
        let n = if r.count > 1 {
            format!("{} x {:#x}", r.count, r.stride)
        } else {
            "1".into()
        };
        let mut row = vec![
            r.name.to_string(),
            at,
            n,
            format!("{:#010x}", r.reset),
            format!("{:#010x}", r.write_mask),
        ];
        row.extend(cells(&r.behaviour));
        row.push(r.doc.to_string());
        s.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    s
}

/// Test helpers every table is held to.
#[cfg(test)]
pub mod checks {
    use super::*;

    /// No offset is claimed by two rows (aliases included).
    pub fn no_two_rows_overlap<B: Copy>(table: &[Reg<B>]) {
        let mut seen = HashMap::new();
        for r in table {
            for (off, _) in r.offsets() {
                if let Some(other) = seen.insert(off, r.name) {
                    panic!("{off:#x} is both {other} and {}", r.name);
                }
            }
        }
    }

    /// The index finds every instance (and alias) of every row.
    pub fn the_index_finds_every_offset<B: Copy>(
        table: &[Reg<B>],
        lookup: impl Fn(u32) -> Option<(&'static Reg<B>, u32)>,
    ) {
        for r in table {
            for (off, i) in r.offsets() {
                let (found, j) =
                    lookup(off).unwrap_or_else(|| panic!("{off:#x} of {} not found", r.name));
                assert_eq!((found.name, j), (r.name, i), "{off:#x}");
            }
        }
    }
}
