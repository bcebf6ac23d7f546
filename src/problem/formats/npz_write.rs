//! AlphaTensor's `.npz`, written: one entry per shape, named like
//! `4,4,5.npy`, as [`super::npz`] reads it. A square shape is an int64
//! (3, n², R) array (float64 when a coefficient is a dyadic fraction),
//! columns as terms and w indexing Cᵀ; another shape is an object array
//! of its three matrices (n·m × R, m·p × R, p·n × R), pickled as numpy
//! pickles it.
//!
//! The npy headers come from `npyz` and the archive from `zip`.
//! `serde-pickle` writes plain data only, and numpy's object arrays need
//! two of numpy's own constructors (`_reconstruct` and `dtype`), so the
//! few pickle opcodes of that one layout are written here; the reader in
//! [`super::npz`] and numpy both load them (checked with numpy 2).

use super::to_c_transposed;
use crate::problem::decomposition::Decomposition;
use crate::problem::field::Coeff;
use anyhow::{bail, Context, Result};
use npyz::{DType, TypeStr, WriteOptions, WriterBuilder};
use std::io::{Cursor, Write};

/// The archive of `ds`, at most one scheme per shape (an npz key names
/// a shape).
pub fn write(ds: &[Decomposition]) -> Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut keys: Vec<String> = Vec::new();
    for d in ds {
        let key = format!("{},{},{}", d.shape.n, d.shape.m, d.shape.p);
        if keys.contains(&key) {
            bail!("npz holds one scheme per shape, and there are two of {}: convert them one at a time (--index)", d.shape);
        }
        let npy = entry(d).with_context(|| format!("{} rank {}", d.shape, d.rank()))?;
        zip.start_file(format!("{key}.npy"), options)?;
        zip.write_all(&npy)?;
        keys.push(key);
    }
    Ok(zip.finish()?.into_inner())
}

/// Each factor's coefficients as columns (row-major len × R), w as Cᵀ.
fn matrices(d: &Decomposition) -> [(usize, Vec<Coeff>); 3] {
    let w_t = to_c_transposed(d.shape, &d.w);
    let columns = |rows: &[Vec<Coeff>]| {
        let len = rows.first().map_or(0, Vec::len);
        let values = (0..len)
            .flat_map(|i| rows.iter().map(move |term| term[i]))
            .collect();
        (len, values)
    };
    [columns(&d.u), columns(&d.v), columns(&w_t)]
}

/// An element type that holds every coefficient exactly: int64, or
/// float64 for dyadic fractions (what AlphaTensor's float arrays hold).
#[derive(Clone, Copy, PartialEq)]
enum Element {
    Int,
    Float,
}

fn element_type(d: &Decomposition) -> Result<Element> {
    let mut kind = Element::Int;
    for x in d.factors().iter().flat_map(|rows| rows.iter().flatten()) {
        if x.is_integer() {
            if i64::try_from(x.to_integer()).is_err() {
                bail!("the coefficient {x} does not fit in int64");
            }
            continue;
        }
        let den = *x.denom();
        if den & (den - 1) != 0 || (*x.numer()).unsigned_abs() > 1 << 52 || den > 1 << 52 {
            bail!("npz holds integers and binary fractions: {x} cannot be stored exactly");
        }
        kind = Element::Float;
    }
    Ok(kind)
}

fn bytes_of(values: &[Coeff], kind: Element) -> Vec<u8> {
    values
        .iter()
        .flat_map(|x| match kind {
            Element::Int => (x.to_integer() as i64).to_le_bytes(),
            Element::Float => (*x.numer() as f64 / *x.denom() as f64).to_le_bytes(),
        })
        .collect()
}

fn entry(d: &Decomposition) -> Result<Vec<u8>> {
    let kind = element_type(d)?;
    let rank = d.rank() as u64;
    let [u, v, w] = matrices(d);
    let square = d.shape.is_square();
    let descr = match (square, kind) {
        (false, _) => "|O",
        (true, Element::Int) => "<i8",
        (true, Element::Float) => "<f8",
    };
    let dtype = DType::Plain(descr.parse::<TypeStr>().expect("a numpy type string"));
    let shape = if square {
        vec![3, u.0 as u64, rank]
    } else {
        vec![3]
    };
    let mut out = WriteOptions::new_header_only()
        .dtype(dtype)
        .shape(&shape)
        .writer(Vec::new())
        .write_header_only()?;
    if square {
        for (_, values) in [&u, &v, &w] {
            out.extend(bytes_of(values, kind));
        }
    } else {
        let matrices = [u, v, w].map(|(len, values)| (len, rank as usize, bytes_of(&values, kind)));
        out.extend(pickled_object_array(&matrices, kind));
    }
    Ok(out)
}

/// Pickle opcodes (protocol 3) of numpy's layout for an object array.
mod op {
    pub const PROTO: u8 = 0x80;
    pub const GLOBAL: u8 = b'c';
    pub const REDUCE: u8 = b'R';
    pub const BUILD: u8 = b'b';
    pub const MARK: u8 = b'(';
    pub const TUPLE: u8 = b't';
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const EMPTY_LIST: u8 = b']';
    pub const APPENDS: u8 = b'e';
    pub const NONE: u8 = b'N';
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const BININT: u8 = b'J';
    pub const BINUNICODE: u8 = b'X';
    pub const BINBYTES: u8 = b'B';
    pub const STOP: u8 = b'.';
}

struct Pickle(Vec<u8>);

impl Pickle {
    fn op(&mut self, code: u8) -> &mut Self {
        self.0.push(code);
        self
    }
    fn int(&mut self, x: i32) -> &mut Self {
        self.op(op::BININT);
        self.0.extend(x.to_le_bytes());
        self
    }
    fn text(&mut self, s: &str) -> &mut Self {
        self.op(op::BINUNICODE);
        self.0.extend((s.len() as u32).to_le_bytes());
        self.0.extend(s.as_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.op(op::BINBYTES);
        self.0.extend((b.len() as u32).to_le_bytes());
        self.0.extend(b);
        self
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.op(op::GLOBAL);
        self.0.extend(format!("{module}\n{name}\n").as_bytes());
        self
    }
    /// `_reconstruct(ndarray, (0,), b'b')`: an empty array to BUILD into.
    fn empty_array(&mut self) -> &mut Self {
        self.global("numpy.core.multiarray", "_reconstruct")
            .global("numpy", "ndarray")
            .int(0)
            .op(op::TUPLE1)
            .bytes(b"b")
            .op(op::TUPLE3)
            .op(op::REDUCE)
    }
    /// `dtype(name, False, True)` with its state (version 3, byte order,
    /// no names or fields, item size and alignment taken from the name,
    /// flags).
    fn dtype(&mut self, name: &str, order: &str, flags: i32) -> &mut Self {
        self.global("numpy", "dtype")
            .text(name)
            .op(op::NEWFALSE)
            .op(op::NEWTRUE)
            .op(op::TUPLE3)
            .op(op::REDUCE)
            .op(op::MARK)
            .int(3)
            .text(order)
            .op(op::NONE)
            .op(op::NONE)
            .op(op::NONE)
            .int(-1)
            .int(-1)
            .int(flags)
            .op(op::TUPLE)
            .op(op::BUILD)
    }
}

/// An object array of three (rows × cols) matrices, as numpy pickles it:
/// each array is `_reconstruct` followed by the state (1, shape, dtype,
/// Fortran order, data) that BUILD sets.
fn pickled_object_array(matrices: &[(usize, usize, Vec<u8>); 3], kind: Element) -> Vec<u8> {
    let mut p = Pickle(vec![op::PROTO, 3]);
    p.empty_array()
        .op(op::MARK)
        .int(1)
        .int(3)
        .op(op::TUPLE1)
        // Object references: item flags of numpy's 'O' dtype.
        .dtype("O8", "|", 63)
        .op(op::NEWFALSE)
        .op(op::EMPTY_LIST)
        .op(op::MARK);
    let element = match kind {
        Element::Int => "i8",
        Element::Float => "f8",
    };
    for (rows, cols, data) in matrices {
        p.empty_array()
            .op(op::MARK)
            .int(1)
            .int(*rows as i32)
            .int(*cols as i32)
            .op(op::TUPLE2)
            .dtype(element, "<", 0)
            .op(op::NEWFALSE)
            .bytes(data)
            .op(op::TUPLE)
            .op(op::BUILD);
    }
    p.op(op::APPENDS).op(op::TUPLE).op(op::BUILD).op(op::STOP);
    p.0
}
