//! The FastMatrixMultiplication catalogue's JSON: `n` ([n, m, p]), `m`
//! (the rank), `z2`, and `u`, `v`, `w` with a row per term; w indexes Cᵀ;
//! fractions are strings such as "1/2"; other keys (`complexity`,
//! `multiplications`, …) are ignored.

use super::{coeff, coeff_text, from_transposed, to_c_transposed};
use crate::problem::decomposition::Decomposition;
use crate::problem::field::{Coeff, Field};
use crate::problem::shape::Shape;
use anyhow::{anyhow, bail, Result};
use serde_json::Value;

pub fn parse(text: &str) -> Result<Decomposition> {
    let v: Value = serde_json::from_str(text).map_err(|e| anyhow!("not JSON: {e}"))?;
    let dims: Vec<usize> = v["n"]
        .as_array()
        .filter(|a| a.len() == 3)
        .and_then(|a| a.iter().map(|x| x.as_u64().map(|x| x as usize)).collect())
        .ok_or_else(|| anyhow!("\"n\" must be [n, m, p]"))?;
    let shape = Shape::new(dims[0], dims[1], dims[2]).map_err(|e| anyhow!("\"n\": {e}"))?;
    let rank = v["m"]
        .as_u64()
        .ok_or_else(|| anyhow!("\"m\" (the rank) must be a whole number"))? as usize;
    let z2 = match &v["z2"] {
        Value::Bool(b) => Some(*b),
        Value::Null => None,
        _ => bail!("\"z2\" must be true or false"),
    };
    let lens = shape.factor_lens();
    let rows = |key: &str, len: usize| -> Result<Vec<Vec<Coeff>>> {
        let rows = v[key]
            .as_array()
            .ok_or_else(|| anyhow!("\"{key}\" must be a list of rows"))?;
        if rows.len() != rank {
            bail!("\"{key}\" has {} rows, and \"m\" says {rank}", rows.len());
        }
        rows.iter()
            .enumerate()
            .map(|(r, row)| {
                let row = row
                    .as_array()
                    .filter(|row| row.len() == len)
                    .ok_or_else(|| anyhow!("\"{key}\" row {r} must hold {len} numbers"))?;
                row.iter()
                    .map(|x| match x {
                        Value::Number(n) => coeff(&n.to_string()),
                        Value::String(s) => coeff(s),
                        _ => bail!("\"{key}\" row {r}: {x} is not a number"),
                    })
                    .collect()
            })
            .collect()
    };
    let (u, vv, w) = (
        rows("u", lens[0])?,
        rows("v", lens[1])?,
        rows("w", lens[2])?,
    );
    from_transposed(shape, z2, u, vv, w)
}

pub fn write(d: &Decomposition) -> String {
    let s = d.shape;
    let value = |x: &Coeff| -> String {
        if x.is_integer() {
            coeff_text(x)
        } else {
            format!("\"{}\"", coeff_text(x))
        }
    };
    let rows = |rows: &[Vec<Coeff>]| -> String {
        let lines: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "        [{}]",
                    r.iter().map(value).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        format!("[\n{}\n    ]", lines.join(",\n"))
    };
    format!(
        "{{\n    \"n\": [{}, {}, {}],\n    \"m\": {},\n    \"z2\": {},\n    \"u\": {},\n    \"v\": {},\n    \"w\": {}\n}}\n",
        s.n,
        s.m,
        s.p,
        d.rank(),
        d.field == Field::Z2,
        rows(&d.u),
        rows(&d.v),
        rows(&to_c_transposed(s, &d.w))
    )
}
