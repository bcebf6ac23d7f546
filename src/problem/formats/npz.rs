//! AlphaTensor's `factorizations_r.npz` and `factorizations_f2.npz`: a zip
//! archive of `.npy` arrays, one per shape, named like `4,4,5.npy`. A
//! square shape is one integer or float array of shape (3, n², R); another
//! is an object array of three matrices (n·m × R, m·p × R, p·n × R),
//! pickled. Columns are terms and w indexes Cᵀ; `f2` in the file's name
//! means Z2.
//!
//! The archive goes through `zip`, each array's header through `npyz`
//! (the elements of plain and pickled arrays alike are read by
//! [`element`]),
//! and a pickled object array through `serde-pickle` as data only:
//! nothing in it is executed, and the numpy arrays it rebuilds are read
//! from their state tuples (shape, dtype, order, raw bytes).

use super::from_transposed;
use crate::problem::decomposition::Decomposition;
use crate::problem::field::Coeff;
use crate::problem::shape::Shape;
use anyhow::{anyhow, bail, Context, Result};
use npyz::{DType, Endianness, NpyFile, Order, TypeChar};
use serde_pickle::Value;
use std::io::Read;

/// Entries larger than this are refused (the published files hold a few
/// MB in all).
const MAX_ENTRY: u64 = 1 << 30;

/// Hands each decomposition of the archive at `path` to `each`, in the
/// archive's order, holding one entry at a time.
pub fn read_each(
    path: &std::path::Path,
    mut each: impl FnMut(Decomposition) -> Result<()>,
) -> Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| anyhow!("not a readable npz (zip) archive: {e}"))?;
    let z2 = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().contains("f2"));
    if archive.is_empty() {
        bail!("the archive holds no array");
    }
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| anyhow!("entry {i} of the archive: {e}"))?;
        let name = entry
            .name()
            .map_err(|e| anyhow!("entry {i}: {e}"))?
            .trim_end_matches(".npy")
            .to_string();
        if entry.size() > MAX_ENTRY {
            bail!("entry '{name}' is larger than {MAX_ENTRY} bytes");
        }
        let mut bytes = vec![];
        entry
            .by_ref()
            .take(MAX_ENTRY + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow!("entry '{name}': {e} (a truncated archive?)"))?;
        let d = entry_scheme(&name, &bytes, z2).map_err(|e| anyhow!("entry '{name}': {e}"))?;
        each(d)?;
    }
    Ok(())
}

/// The shape a key such as `4,4,5` names.
fn shape_of(name: &str) -> Result<Shape> {
    let dims: Vec<usize> = name
        .split(',')
        .map(|t| t.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("a key names a shape such as '4,4,5'"))?;
    match dims[..] {
        [n, m, p] => Shape::new(n, m, p).map_err(|e| anyhow!(e)),
        _ => bail!("a key names a shape such as '4,4,5'"),
    }
}

/// A matrix of `rows` × `cols` integers (or exact floats), row-major.
struct Matrix {
    rows: usize,
    cols: usize,
    values: Vec<Coeff>,
}

impl Matrix {
    /// Column r (a term) as a factor.
    fn column(&self, r: usize) -> Vec<Coeff> {
        (0..self.rows)
            .map(|i| self.values[i * self.cols + r])
            .collect()
    }
}

fn entry_scheme(name: &str, bytes: &[u8], z2: bool) -> Result<Decomposition> {
    let shape = shape_of(name)?;
    let npy = NpyFile::new(bytes).map_err(|e| anyhow!("not an npy array: {e}"))?;
    let lens = shape.factor_lens();
    let DType::Plain(ty) = npy.dtype() else {
        bail!("an array of records, not of numbers");
    };
    let matrices: Vec<Matrix> = if ty.type_char() == TypeChar::Object {
        let body = npy.into_inner();
        pickled_matrices(body)?
    } else {
        let dims: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let [3, len, rank] = dims[..] else {
            bail!("a square shape's array must be (3, n², R), found {dims:?}");
        };
        if !shape.is_square() || len != lens[0] {
            bail!("a (3, {len}, {rank}) array does not fit {shape}");
        }
        let fortran = npy.order() == Order::Fortran;
        let float = match ty.type_char() {
            TypeChar::Int => false,
            TypeChar::Float => true,
            kind => bail!("elements of type {kind:?} are not coefficients"),
        };
        let size = ty.num_bytes().unwrap_or(0);
        let little = ty.endianness() != Endianness::Big;
        let count = 3 * len * rank;
        let body = npy.into_inner();
        if size == 0 || body.len() < count * size {
            bail!("the array holds fewer than {count} elements (a truncated array?)");
        }
        let values = body[..count * size]
            .chunks(size)
            .map(|c| element(c, size, float, little))
            .collect::<Result<Vec<_>>>()?;
        let values = if fortran {
            to_c_order(&values, &dims)
        } else {
            values
        };
        (0..3)
            .map(|f| Matrix {
                rows: len,
                cols: rank,
                values: values[f * len * rank..(f + 1) * len * rank].to_vec(),
            })
            .collect()
    };
    let [u, v, w] = &matrices[..] else {
        bail!("three matrices expected, found {}", matrices.len());
    };
    let rank = u.cols;
    for (m, (len, what)) in [u, v, w].iter().zip(lens.iter().zip(["u", "v", "w"])) {
        if m.rows != *len || m.cols != rank {
            bail!(
                "{what} is {}x{}, and {shape} of rank {rank} needs {len}x{rank}",
                m.rows,
                m.cols
            );
        }
    }
    let terms = |m: &Matrix| (0..rank).map(|r| m.column(r)).collect::<Vec<_>>();
    from_transposed(shape, Some(z2).filter(|&z| z), terms(u), terms(v), terms(w))
}

/// A float as the exact rational it is, when it is a dyadic fraction with
/// a small denominator (what schemes hold); else an error.
fn exact(x: f64) -> Result<Coeff> {
    if !x.is_finite() {
        bail!("a coefficient is {x}");
    }
    let mut den: i128 = 1;
    let mut scaled = x;
    while scaled.fract() != 0.0 && den < 1 << 40 {
        scaled *= 2.0;
        den *= 2;
    }
    if scaled.fract() != 0.0 || scaled.abs() > 2f64.powi(100) {
        bail!("the coefficient {x} is not a small fraction");
    }
    Ok(Coeff::new(scaled as i128, den))
}

fn to_c_order(values: &[Coeff], dims: &[usize]) -> Vec<Coeff> {
    // Fortran order: the first index varies fastest.
    let [a, b, c] = [dims[0], dims[1], dims[2]];
    let mut out = values.to_vec();
    for i in 0..a {
        for j in 0..b {
            for k in 0..c {
                out[(i * b + j) * c + k] = values[i + a * (j + b * k)];
            }
        }
    }
    out
}

/// The three matrices of a pickled object array. numpy pickles each
/// array as `_reconstruct` followed by its state, (version, shape, dtype,
/// is_fortran, raw bytes); the globals are never resolved or run, and
/// the reader keeps the states.
fn pickled_matrices(body: &[u8]) -> Result<Vec<Matrix>> {
    let options = serde_pickle::DeOptions::new()
        .replace_unresolved_globals()
        .keep_restore_state();
    let value = serde_pickle::value_from_slice(body, options)
        .map_err(|e| anyhow!("not a pickle of numpy arrays: {e}"))?;
    // The outer array's state holds the list of its three elements.
    let outer = state(&value).ok_or_else(|| anyhow!("a pickle of something else than an array"))?;
    let Value::List(items) = outer.4 else {
        bail!("a pickle of something else than an object array");
    };
    // Each element's dtype may appear once in full (the first) and be
    // shared by the others; its element size comes from its bytes.
    items
        .iter()
        .map(|item| {
            let s = state(item).ok_or_else(|| anyhow!("an element is not a numpy array"))?;
            let dims = s.1;
            let Value::Bytes(raw) = s.4 else {
                bail!("an element's data is not raw bytes");
            };
            let [rows, cols] = dims[..] else {
                bail!("an element is not a matrix");
            };
            let count = rows * cols;
            if count == 0 || raw.len() % count != 0 {
                bail!("an element's {} bytes do not fill {rows}x{cols}", raw.len());
            }
            let size = raw.len() / count;
            let float = dtype_is_float(s.2, &value);
            let little = !matches!(s.2, Value::Tuple(t) if matches!(t.get(1), Some(Value::String(e)) if e == ">"));
            let values = raw
                .chunks(size)
                .map(|c| element(c, size, float, little))
                .collect::<Result<Vec<_>>>()?;
            let values = if s.3 {
                to_c_order(&values, &[rows, cols, 1])
            } else {
                values
            };
            Ok(Matrix { rows, cols, values })
        })
        .collect()
}

/// (version, shape, dtype, is_fortran, data) of a rebuilt numpy array.
fn state(v: &Value) -> Option<(i64, Vec<usize>, &Value, bool, &Value)> {
    let Value::Tuple(t) = v else { return None };
    let [Value::I64(version), Value::Tuple(shape), dtype, Value::Bool(fortran), data] = &t[..]
    else {
        return None;
    };
    let shape = shape
        .iter()
        .map(|d| match d {
            Value::I64(x) if *x >= 0 => Some(*x as usize),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((*version, shape, dtype, *fortran, data))
}

/// Whether a dtype (its state, or its constructor's arguments such as
/// ("f8", False, True)) is a float type; when a state alone says nothing,
/// any dtype name elsewhere in the pickle decides.
fn dtype_is_float(dtype: &Value, whole: &Value) -> bool {
    fn names(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.len() <= 4 && s.chars().any(|c| c.is_ascii_digit()) => {
                out.push(s.clone())
            }
            Value::Tuple(xs) | Value::List(xs) => xs.iter().for_each(|x| names(x, out)),
            _ => {}
        }
    }
    let mut found = vec![];
    names(dtype, &mut found);
    if found.is_empty() {
        names(whole, &mut found);
    }
    found
        .iter()
        .any(|n| n.trim_start_matches(['<', '>', '|', '=']).starts_with('f'))
}

fn element(bytes: &[u8], size: usize, float: bool, little: bool) -> Result<Coeff> {
    if size > 8 {
        bail!("elements of {size} bytes are not coefficients");
    }
    let mut b = [0u8; 8];
    b[..size].copy_from_slice(bytes);
    if !little {
        b[..size].reverse();
    }
    match (float, size) {
        (false, 1) => Ok(Coeff::from_integer(b[0] as i8 as i128)),
        (false, 2) => Ok(Coeff::from_integer(i16::from_le_bytes([b[0], b[1]]) as i128)),
        (false, 4) => Ok(Coeff::from_integer(
            i32::from_le_bytes(b[..4].try_into()?) as i128
        )),
        (false, 8) => Ok(Coeff::from_integer(
            i64::from_le_bytes(b[..8].try_into()?) as i128
        )),
        (true, 8) => exact(f64::from_le_bytes(b[..8].try_into()?)),
        (true, 4) => exact(f32::from_le_bytes(b[..4].try_into()?) as f64),
        _ => bail!("elements of {size} bytes are not coefficients"),
    }
}
