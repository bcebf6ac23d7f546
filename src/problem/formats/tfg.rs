//! ternary_flip_graph's text: `n m p R`, then the U, V and W coefficients,
//! term by term (w indexes Cᵀ); a file of several schemes starts with
//! their count. With fractions (`--format frac` there) every value is a
//! numerator and a denominator, `7 1` for 7; which of the two a file uses
//! is told by its count of numbers. A file of zeros and ones is read over
//! Z when it holds there, else over Z2.

use super::{from_transposed, to_c_transposed};
use crate::problem::decomposition::Decomposition;
use crate::problem::field::Coeff;
use crate::problem::shape::Shape;
use anyhow::{anyhow, bail, Result};

pub fn parse(text: &str) -> Result<Vec<Decomposition>> {
    let numbers: Vec<i128> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .map(|t| {
            t.parse::<i128>()
                .map_err(|_| anyhow!("'{t}' is not a whole number"))
        })
        .collect::<Result<_>>()?;
    // One scheme or a count and that many; integers or pairs. Only one of
    // the four readings uses every number exactly.
    let mut first_error = None;
    for listed in [false, true] {
        for fractions in [false, true] {
            let (count, body) = if listed {
                match numbers.split_first() {
                    Some((&c, rest)) if (1..=1_000_000).contains(&c) => (c as usize, rest),
                    _ => continue,
                }
            } else {
                (1, &numbers[..])
            };
            match parse_all(body, count, listed, fractions) {
                Ok(ds) => return Ok(ds),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    Err(first_error.unwrap_or_else(|| anyhow!("the file is empty")))
}

/// `count` schemes from `numbers`, which must be used up.
fn parse_all(
    numbers: &[i128],
    count: usize,
    listed: bool,
    fractions: bool,
) -> Result<Vec<Decomposition>> {
    let mut at = 0;
    let mut out = vec![];
    for k in 0..count {
        let (d, used) = parse_one(&numbers[at..], fractions).map_err(|e| {
            if listed {
                anyhow!("scheme {k}: {e}")
            } else {
                e
            }
        })?;
        out.push(d);
        at += used;
    }
    if at != numbers.len() {
        bail!("{} numbers after the last scheme", numbers.len() - at);
    }
    Ok(out)
}

/// One scheme at the start of `numbers`, and how many numbers it took.
fn parse_one(numbers: &[i128], fractions: bool) -> Result<(Decomposition, usize)> {
    let [n, m, p, r] = numbers
        .get(..4)
        .and_then(|h| <[i128; 4]>::try_from(h).ok())
        .ok_or_else(|| anyhow!("a scheme starts with n m p R"))?;
    let dim = |x: i128| usize::try_from(x).ok().filter(|&x| (1..=64).contains(&x));
    let (Some(n), Some(m), Some(p)) = (dim(n), dim(m), dim(p)) else {
        bail!("n m p must be from 1 to 64");
    };
    let rank = usize::try_from(r)
        .ok()
        .filter(|&r| r <= 1 << 20)
        .ok_or_else(|| anyhow!("the rank {r} is out of range"))?;
    let shape = Shape::new(n, m, p).map_err(|e| anyhow!(e))?;
    let lens = shape.factor_lens();
    let values = rank * lens.iter().sum::<usize>();
    let per = if fractions { 2 } else { 1 };
    let body = &numbers[4..];
    if body.len() < per * values {
        bail!(
            "{shape} of rank {rank} needs {values} coefficients, the file has {}",
            body.len() / per
        );
    }
    let value = |i: usize| -> Result<Coeff> {
        if fractions {
            let (num, den) = (body[2 * i], body[2 * i + 1]);
            if den <= 0 {
                bail!("a denominator is not positive");
            }
            Ok(Coeff::new(num, den))
        } else {
            Ok(Coeff::from_integer(body[i]))
        }
    };
    let mut at = 0;
    let mut part = |len: usize| -> Result<Vec<Vec<Coeff>>> {
        (0..rank)
            .map(|_| {
                let row = (at..at + len).map(value).collect::<Result<Vec<_>>>();
                at += len;
                row
            })
            .collect()
    };
    let (u, v, w) = (part(lens[0])?, part(lens[1])?, part(lens[2])?);
    let d = from_transposed(shape, None, u, v, w)?;
    Ok((d, 4 + per * values))
}

pub fn write(ds: &[Decomposition]) -> String {
    let fractions = ds.iter().any(|d| {
        d.factors()
            .iter()
            .any(|r| r.iter().flatten().any(|x| !x.is_integer()))
    });
    let mut text = String::new();
    if ds.len() != 1 {
        text += &format!("{}\n", ds.len());
    }
    for d in ds {
        let s = d.shape;
        text += &format!("{} {} {} {}\n", s.n, s.m, s.p, d.rank());
        let wt = to_c_transposed(s, &d.w);
        for rows in [&d.u, &d.v, &wt] {
            let line: Vec<String> = rows
                .iter()
                .flatten()
                .map(|x| {
                    if fractions {
                        format!("{} {}", x.numer(), x.denom())
                    } else {
                        x.to_integer().to_string()
                    }
                })
                .collect();
            text += &line.join(" ");
            text.push('\n');
        }
    }
    text
}
