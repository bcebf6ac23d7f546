//! jakobmoosbauer/flips' `.exp`: one product per line,
//! `(a11+a22)*(b11+b22)*(c22)`, with integer coefficients (`2*a12`,
//! `-b21`) and 1-based indices, c_ki standing for C[i][k] (Cᵀ). `mod2` in
//! the file's name means Z2; otherwise a file of zeros and ones is read
//! over Z when it holds there, else over Z2. The shape is read off the
//! largest indices.

use super::{from_transposed, to_c_transposed};
use crate::problem::decomposition::Decomposition;
use crate::problem::field::Coeff;
use crate::problem::shape::Shape;
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;

/// One product's three sums: (matrix letter's index 0..3) → (row, column)
/// → coefficient.
type Sums = [BTreeMap<(usize, usize), i128>; 3];

fn parse_product(line: &str, number: usize) -> Result<Sums> {
    let text: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    let mut sums: Sums = Default::default();
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        // A coefficient: optional sign, optional digits and '*'.
        let mut sign = 1i128;
        while at < bytes.len() && matches!(bytes[at], b'+' | b'-' | b'(' | b')' | b'*') {
            if bytes[at] == b'-' {
                sign = -sign;
            }
            if bytes[at] == b'(' {
                sign = 1;
            }
            at += 1;
        }
        let digits_from = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        let mut scale = 1i128;
        if at > digits_from {
            scale = text[digits_from..at]
                .parse()
                .map_err(|_| anyhow!("line {number}: '{}' is too large", &text[digits_from..at]))?;
            if bytes.get(at) == Some(&b'*') {
                at += 1;
            }
        }
        if at >= bytes.len() {
            if at > start && at > digits_from {
                bail!("line {number}: a number with no entry after it");
            }
            break;
        }
        let letter = match bytes[at] {
            b'a' => 0,
            b'b' => 1,
            b'c' => 2,
            other => bail!(
                "line {number}: unexpected '{}' (a product looks like (a11+a22)*(b11+b22)*(c22))",
                other as char
            ),
        };
        if bytes.len() < at + 3
            || !bytes[at + 1].is_ascii_digit()
            || !bytes[at + 2].is_ascii_digit()
        {
            bail!("line {number}: an entry is a letter and two digits, e.g. a12");
        }
        let (row, col) = (
            (bytes[at + 1] - b'0') as usize,
            (bytes[at + 2] - b'0') as usize,
        );
        if row == 0 || col == 0 {
            bail!("line {number}: indices start at 1");
        }
        *sums[letter].entry((row - 1, col - 1)).or_default() += sign * scale;
        at += 3;
    }
    if sums.iter().any(|s| s.is_empty()) {
        bail!("line {number}: a product needs an a, a b and a c sum");
    }
    Ok(sums)
}

pub fn parse(text: &str, name: &str) -> Result<Decomposition> {
    let products: Vec<Sums> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| parse_product(l, i + 1))
        .collect::<Result<_>>()?;
    if products.is_empty() {
        bail!("no product in the file");
    }
    let extent = |letter: usize, which: usize| {
        products
            .iter()
            .flat_map(|s| {
                s[letter]
                    .keys()
                    .map(move |&(r, c)| if which == 0 { r } else { c })
            })
            .max()
            .unwrap_or(0)
            + 1
    };
    // a is n×m, b m×p, c (Cᵀ) p×n.
    let (n, m, p) = (
        extent(0, 0).max(extent(2, 1)),
        extent(0, 1).max(extent(1, 0)),
        extent(1, 1).max(extent(2, 0)),
    );
    let shape = Shape::new(n, m, p).map_err(|e| anyhow!(e))?;
    let flat = |s: &BTreeMap<(usize, usize), i128>, cols: usize, len: usize| -> Vec<Coeff> {
        let mut row = vec![Coeff::from_integer(0); len];
        for (&(r, c), &x) in s {
            row[r * cols + c] = Coeff::from_integer(x);
        }
        row
    };
    let u = products.iter().map(|s| flat(&s[0], m, n * m)).collect();
    let v = products.iter().map(|s| flat(&s[1], p, m * p)).collect();
    let w = products.iter().map(|s| flat(&s[2], n, p * n)).collect();
    let z2 = name.to_ascii_lowercase().contains("mod2").then_some(true);
    from_transposed(shape, z2, u, v, w)
}

pub fn write(d: &Decomposition) -> Result<String> {
    let s = d.shape;
    if d.factors()
        .iter()
        .any(|r| r.iter().flatten().any(|x| !x.is_integer()))
    {
        bail!(
            "exp holds integer coefficients only; this {} scheme has fractions",
            d.field
        );
    }
    if s.n > 9 || s.m > 9 || s.p > 9 {
        bail!("exp writes one digit per index: {s} is too large");
    }
    let wt = to_c_transposed(s, &d.w);
    let sum = |letter: char, row: &[Coeff], cols: usize| -> String {
        let mut out = String::new();
        for (i, x) in row
            .iter()
            .enumerate()
            .filter(|(_, x)| !x.is_integer() || x.to_integer() != 0)
        {
            let x = x.to_integer();
            let entry = format!("{letter}{}{}", i / cols + 1, i % cols + 1);
            let term = match x.abs() {
                1 => entry,
                k => format!("{k}*{entry}"),
            };
            out += &match (out.is_empty(), x < 0) {
                (true, false) => term,
                (true, true) => format!("-{term}"),
                (false, false) => format!("+{term}"),
                (false, true) => format!("-{term}"),
            };
        }
        format!("({out})")
    };
    let mut text = String::new();
    for ((u, v), w) in d.u.iter().zip(&d.v).zip(&wt) {
        text += &format!(
            "{}*{}*{}\n",
            sum('a', u, s.m),
            sum('b', v, s.p),
            sum('c', w, s.n)
        );
    }
    Ok(text)
}
