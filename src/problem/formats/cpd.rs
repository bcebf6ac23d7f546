//! khoruzhii/flip-cpd's schemes. There w indexes C itself (c = i·p + k),
//! where the other tools' files index Cᵀ.
//!
//! - `.txt`: `m1 = (a1 - a4)(b1 + b4)` per product, a blank line, then
//!   `c1 = m1 + m2 - m5` per entry of C; 1-based flat indices
//!   (a = i·m + j, b = j·p + k), coefficients such as `2a3` or `1/2a7`,
//!   optional `;` at line ends. The shape follows from the counts:
//!   n·m a's, m·p b's and n·p c's.
//! - `.npy`: int64, one row per scheme of 2·R·(nm + mp + np) numbers,
//!   numerator and denominator for each coefficient of U (R × nm, term
//!   by term), then V, then W. The array does not hold the shape: the
//!   file's name does, as flip-cpd names it (`gg-333-rank23-…`, where
//!   `gg` is a product of two general matrices).

use super::{coeff_text, from_rows};
use crate::problem::decomposition::Decomposition;
use crate::problem::field::Coeff;
use crate::problem::shape::Shape;
use anyhow::{anyhow, bail, Context, Result};
use npyz::{DType, NpyFile, TypeStr, WriteOptions, WriterBuilder};

/// A linear form: (1-based index, coefficient) pairs.
type Form = Vec<(usize, Coeff)>;

/// A linear form `(a1 - 2a3 + 1/2a4)` over `letter`, as (1-based index,
/// coefficient) pairs.
fn linear_form(text: &str, letter: char, line: usize) -> Result<Form> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if text == "0" {
        return Ok(vec![]);
    }
    let mut out = vec![];
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let negative = rest.starts_with('-');
        rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
        let at = rest
            .find(letter)
            .ok_or_else(|| anyhow!("line {line}: expected a term of {letter}, found '{rest}'"))?;
        let magnitude = rest[..at].trim_end_matches('*');
        let mut c = if magnitude.is_empty() {
            Coeff::from_integer(1)
        } else {
            super::coeff(magnitude).with_context(|| format!("line {line}"))?
        };
        if negative {
            c = -c;
        }
        rest = &rest[at + 1..];
        let digits = rest
            .find(|ch: char| !ch.is_ascii_digit())
            .unwrap_or(rest.len());
        let index: usize = rest[..digits]
            .parse()
            .map_err(|_| anyhow!("line {line}: {letter} needs a 1-based index"))?;
        if index == 0 || index > 1 << 16 {
            bail!("line {line}: {letter}{index} is out of range (indices start at 1)");
        }
        out.push((index, c));
        rest = &rest[digits..];
        if !rest.is_empty() && !rest.starts_with(['+', '-']) {
            bail!("line {line}: unexpected '{rest}'");
        }
    }
    Ok(out)
}

/// The shape whose counts of a's, b's and c's are `na`, `nb`, `nc`.
fn shape_of_counts(na: usize, nb: usize, nc: usize) -> Result<Shape> {
    let squared = na * nc / nb.max(1);
    let n = (squared as f64).sqrt().round() as usize;
    let fits = n > 0 && n * n * nb == na * nc && na.is_multiple_of(n) && nc.is_multiple_of(n);
    let shape = fits
        .then(|| Shape::new(n, na / n, nc / n).ok())
        .flatten()
        .filter(|s| s.m * s.p == nb);
    shape.ok_or_else(|| {
        anyhow!("{na} a's, {nb} b's and {nc} c's are not the entries of an n×m times m×p product")
    })
}

/// Parses flip-cpd's text from a file named `name`.
pub fn parse_text(text: &str, name: &str) -> Result<Decomposition> {
    let mut products: Vec<(Form, Form)> = vec![];
    let mut sums: Vec<(usize, Form)> = vec![];
    for (number, raw) in text.lines().enumerate() {
        let number = number + 1;
        let line = raw.trim().trim_end_matches(';');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rhs) = line
            .split_once('=')
            .ok_or_else(|| anyhow!("line {number}: expected 'mK = (…)(…)' or 'cK = …'"))?;
        let name = name.trim();
        let index = |prefix: char| -> Result<usize> {
            name[1..]
                .parse::<usize>()
                .ok()
                .filter(|&i| i > 0)
                .ok_or_else(|| {
                    anyhow!("line {number}: '{name}' needs a 1-based index after {prefix}")
                })
        };
        if name.starts_with('m') {
            let k = index('m')?;
            if k != products.len() + 1 {
                bail!(
                    "line {number}: m{k} out of order (expected m{})",
                    products.len() + 1
                );
            }
            let rhs = rhs.trim();
            if rhs == "0" {
                products.push((vec![], vec![]));
                continue;
            }
            let inner = rhs
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|r| r.split_once(")("))
                .ok_or_else(|| anyhow!("line {number}: a product looks like (a1 - a4)(b1 + b4)"))?;
            products.push((
                linear_form(inner.0, 'a', number)?,
                linear_form(inner.1, 'b', number)?,
            ));
        } else if name.starts_with('c') {
            sums.push((index('c')?, linear_form(rhs, 'm', number)?));
        } else {
            bail!("line {number}: '{name}' is neither a product mK nor an entry cK");
        }
    }
    if products.is_empty() || sums.is_empty() {
        bail!("no products (mK = …) or no entries of C (cK = …)");
    }
    let rank = products.len();
    let na = products
        .iter()
        .flat_map(|p| &p.0)
        .map(|t| t.0)
        .max()
        .unwrap_or(0);
    let nb = products
        .iter()
        .flat_map(|p| &p.1)
        .map(|t| t.0)
        .max()
        .unwrap_or(0);
    let nc = sums.iter().map(|s| s.0).max().unwrap_or(0);
    let shape = shape_of_counts(na, nb, nc).map_err(|e| match structured(name) {
        Some(op) => anyhow!("{e}: {}", structured_note(&op)),
        None => e,
    })?;
    let zero = Coeff::from_integer(0);
    let mut u = vec![vec![zero; na]; rank];
    let mut v = vec![vec![zero; nb]; rank];
    let mut w = vec![vec![zero; nc]; rank];
    for (r, (a, b)) in products.iter().enumerate() {
        a.iter().for_each(|(i, c)| u[r][i - 1] += c);
        b.iter().for_each(|(j, c)| v[r][j - 1] += c);
    }
    for (k, terms) in &sums {
        for (m, c) in terms {
            if *m > rank {
                bail!("c{k} uses m{m}, and there are {rank} products");
            }
            w[m - 1][k - 1] += c;
        }
    }
    from_rows(shape, None, u, v, w)
}

/// A linear form as flip-cpd prints it.
fn form_text(row: &[Coeff], letter: char) -> String {
    let mut out = String::new();
    for (i, c) in row
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != Coeff::from_integer(0))
    {
        let negative = *c < Coeff::from_integer(0);
        let magnitude = if negative { -*c } else { *c };
        let magnitude = if magnitude == Coeff::from_integer(1) {
            String::new()
        } else {
            coeff_text(&magnitude)
        };
        match (out.is_empty(), negative) {
            (true, true) => out.push('-'),
            (true, false) => {}
            (false, true) => out.push_str(" - "),
            (false, false) => out.push_str(" + "),
        }
        out.push_str(&format!("{magnitude}{letter}{}", i + 1));
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// `d` in flip-cpd's text.
pub fn write_text(d: &Decomposition) -> String {
    let width = format!("m{}", d.rank()).len();
    let mut out = String::new();
    for (r, (u, v)) in d.u.iter().zip(&d.v).enumerate() {
        let (a, b) = (form_text(u, 'a'), form_text(v, 'b'));
        let rhs = if a == "0" || b == "0" {
            "0".to_string()
        } else {
            format!("({a})({b})")
        };
        out.push_str(&format!("{:<width$} = {rhs}\n", format!("m{}", r + 1)));
    }
    out.push('\n');
    let entries = d.w.first().map_or(0, Vec::len);
    let width = format!("c{entries}").len();
    for k in 0..entries {
        let column: Vec<Coeff> = d.w.iter().map(|w| w[k]).collect();
        out.push_str(&format!(
            "{:<width$} = {}\n",
            format!("c{}", k + 1),
            form_text(&column, 'm')
        ));
    }
    out
}

/// The operation a flip-cpd file name such as `sg-222-…` names, when it
/// is not `gg` (a product of two general matrices).
fn structured(name: &str) -> Option<String> {
    let mut parts = name.split('-');
    let (op, dims) = (parts.next()?, parts.next()?);
    let named = op.len() == 2 && op.chars().all(|c| c.is_ascii_lowercase());
    (named && op != "gg" && dims.starts_with(|c: char| c.is_ascii_digit())).then(|| op.to_string())
}

fn structured_note(op: &str) -> String {
    format!("flip-cpd's '{op}' schemes are for structured products, not a product of two general matrices (gg)")
}

/// The shapes and ranks a flip-cpd file name such as `gg-333-rank23-…`
/// may mean: its digits split into three dimensions in every way.
fn names(name: &str) -> Result<(Vec<Shape>, Option<usize>)> {
    let mut parts = name.split('-');
    let (op, dims) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let rank = parts
        .find_map(|p| p.strip_prefix("rank"))
        .and_then(|r| r.parse().ok());
    if let Some(op) = structured(name) {
        bail!("{}", structured_note(&op));
    }
    if op != "gg" || !dims.starts_with(|c: char| c.is_ascii_digit()) {
        bail!("flip-cpd's .npy does not hold its shape: its file name must, as flip-cpd names it (gg-333-rank23-….npy)");
    }
    let digits: String = dims.chars().take_while(|c| c.is_ascii_digit()).collect();
    let mut shapes = vec![];
    for i in 1..digits.len() {
        for j in i + 1..digits.len() {
            let parse = |s: &str| s.parse::<usize>().ok().filter(|_| !s.starts_with('0'));
            if let (Some(n), Some(m), Some(p)) = (
                parse(&digits[..i]),
                parse(&digits[i..j]),
                parse(&digits[j..]),
            ) {
                shapes.extend(Shape::new(n, m, p).ok());
            }
        }
    }
    Ok((shapes, rank))
}

/// Reads flip-cpd's `.npy` named `name`: every row a scheme.
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<Vec<Decomposition>> {
    let npy = NpyFile::new(bytes).map_err(|e| anyhow!("not an npy array: {e}"))?;
    let dims: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let (rows, len) = match dims[..] {
        [len] => (1, len),
        [rows, len] => (rows, len),
        _ => bail!("flip-cpd's schemes are one row each, and the array is {dims:?}"),
    };
    let values: Vec<i64> = npy.into_vec().map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => anyhow!("the array ends early (a truncated file?)"),
        _ => anyhow!("flip-cpd's schemes are int64 numerator/denominator pairs: {e}"),
    })?;
    if values.len() != rows * len {
        bail!(
            "the array holds {} of its {} numbers (a truncated file?)",
            values.len(),
            rows * len
        );
    }
    let (shapes, rank) = names(name)?;
    let fits = |s: &Shape| {
        let per_term = 2 * (s.n * s.m + s.m * s.p + s.n * s.p);
        len % per_term == 0 && rank.is_none_or(|r| r * per_term == len)
    };
    let shape = match shapes.iter().filter(|s| fits(s)).collect::<Vec<_>>()[..] {
        [s] => *s,
        [] => bail!("rows of {len} numbers do not fit the shape and rank in the name '{name}'"),
        _ => bail!("the name '{name}' fits several shapes: rename it with the rank (gg-…-rankR-…)"),
    };
    let lens = shape.factor_lens();
    let rank = len / (2 * lens.iter().sum::<usize>());
    values
        .chunks(len)
        .enumerate()
        .map(|(row, values)| {
            let mut at = 0;
            let mut factor = |width: usize| -> Result<Vec<Vec<Coeff>>> {
                (0..rank)
                    .map(|_| {
                        (0..width)
                            .map(|_| {
                                let (num, den) = (values[at], values[at + 1]);
                                at += 2;
                                if den == 0 {
                                    bail!("row {row}: a zero denominator");
                                }
                                Ok(Coeff::new(num as i128, den as i128))
                            })
                            .collect()
                    })
                    .collect()
            };
            let (u, v, w) = (factor(lens[0])?, factor(lens[1])?, factor(lens[2])?);
            from_rows(shape, None, u, v, w)
        })
        .collect()
}

/// `ds` (all of one shape and rank) as flip-cpd's `.npy`, one row each.
pub fn write_npy(ds: &[Decomposition]) -> Result<Vec<u8>> {
    let Some(first) = ds.first() else {
        bail!("no scheme to write");
    };
    if ds
        .iter()
        .any(|d| d.shape != first.shape || d.rank() != first.rank())
    {
        bail!("flip-cpd's .npy holds schemes of one shape and rank: convert them one at a time (--index)");
    }
    let mut values: Vec<i64> = vec![];
    for d in ds {
        for x in d.factors().iter().flat_map(|rows| rows.iter().flatten()) {
            for part in [*x.numer(), *x.denom()] {
                values.push(
                    i64::try_from(part)
                        .map_err(|_| anyhow!("the coefficient {x} does not fit in int64"))?,
                );
            }
        }
    }
    let len = values.len() / ds.len();
    let mut bytes = Vec::new();
    let mut out = WriteOptions::new()
        .dtype(DType::Plain(
            "<i8".parse::<TypeStr>().expect("a numpy type string"),
        ))
        .shape(&[ds.len() as u64, len as u64])
        .writer(&mut bytes)
        .begin_nd()?;
    out.extend(values)?;
    out.finish()?;
    Ok(bytes)
}

/// The file name flip-cpd would give `d`'s `.npy` (what [`parse_npy`]
/// reads the shape from).
pub fn npy_name(d: &Decomposition) -> String {
    format!(
        "gg-{}{}{}-rank{}",
        d.shape.n,
        d.shape.m,
        d.shape.p,
        d.rank()
    )
}
