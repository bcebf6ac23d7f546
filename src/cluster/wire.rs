//! Schemes on the wire: our JSON of one decomposition, terms in a fixed
//! order so that the same scheme is the same text (a set keeps it once).
//! What comes back is parsed and verified before anyone uses it.

use crate::problem::{json, verify, Decomposition, Field, Shape};
use anyhow::{anyhow, bail, Result};

/// The largest entry read back (a 16x16x16 scheme of rank 4096 in JSON
/// is under 10 MB).
pub const MAX_ENTRY: usize = 16 << 20;

/// The text of `d` with its terms sorted.
pub fn encode(d: &Decomposition) -> String {
    let mut terms: Vec<usize> = (0..d.rank()).collect();
    let key = |r: usize| {
        let [u, v, w] = d.factors();
        [&u[r], &v[r], &w[r]]
            .into_iter()
            .flatten()
            .map(|x| (x.numer().to_owned(), x.denom().to_owned()))
            .collect::<Vec<_>>()
    };
    terms.sort_by_key(|&r| key(r));
    let pick = |rows: &[Vec<_>]| terms.iter().map(|&r| rows[r].clone()).collect();
    let sorted = Decomposition {
        shape: d.shape,
        field: d.field,
        u: pick(&d.u),
        v: pick(&d.v),
        w: pick(&d.w),
    };
    json::to_json_line(&sorted)
}

/// The scheme in `text`, when it is one decomposition of `shape` over
/// `field` that verifies exactly; else why not.
pub fn decode(text: &str, shape: Shape, field: Field) -> Result<Decomposition> {
    if text.len() > MAX_ENTRY {
        bail!("an entry of {} bytes", text.len());
    }
    let mut ds = json::parse_str(text).map_err(|e| anyhow!("not a scheme: {e}"))?;
    if ds.len() != 1 {
        bail!("{} schemes in one entry", ds.len());
    }
    let d = ds.remove(0);
    if d.shape != shape || d.field != field {
        bail!(
            "a {} scheme over {} under {shape} over {field}",
            d.shape,
            d.field
        );
    }
    verify(&d, field).map_err(|e| anyhow!("rank {} does not verify: {e}", d.rank()))?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_scheme_is_the_same_text_and_only_verified_schemes_come_back() {
        let s = Decomposition::strassen();
        let mut shuffled = s.clone();
        for rows in [&mut shuffled.u, &mut shuffled.v, &mut shuffled.w] {
            rows.reverse();
        }
        assert_eq!(encode(&s), encode(&shuffled));
        let shape = s.shape;
        let back = decode(&encode(&s), shape, Field::Z).unwrap();
        verify(&back, Field::Z).unwrap();
        assert_eq!(back.rank(), 7);
        // Another shape, another field, a broken term, garbage: refused.
        let other = Shape::new(2, 2, 3).unwrap();
        assert!(decode(&encode(&s), other, Field::Z).is_err());
        assert!(decode(&encode(&s), shape, Field::Z2).is_err());
        let mut broken = s.clone();
        broken.u[0][0] += num_rational::Ratio::from_integer(1);
        let e = decode(&encode(&broken), shape, Field::Z).unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
        assert!(decode("{\"shape\":", shape, Field::Z).is_err());
    }
}
