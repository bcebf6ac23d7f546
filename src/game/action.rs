//! Actions as token sequences. The concatenation u‖v‖w (length
//! L = nm + mp + np) is cut into chunks of k coefficients; each chunk is one
//! token of a vocabulary of |F|^k words, the first coefficient of a chunk
//! being the least significant digit. The last chunk is padded with zeros,
//! and decoding rejects a token whose padding is not zero, so encoding and
//! decoding are exact inverses on every valid action.

use crate::problem::{Decomposition, Field, Shape};

/// The coefficient set F the game plays with for a field. Over Z it is
/// {−1, 0, 1}: the published schemes up to 5×5×5 use ±2 in about one
/// coefficient in a thousand, and a set of three instead of five shrinks
/// the action space of 2×2×2 from 5¹² to 3¹² and keeps synthetic
/// demonstrations from teaching coefficients the search rarely needs.
pub fn coefficient_set(field: Field) -> &'static [i32] {
    match field {
        Field::Z2 => &[0, 1],
        // Rational schemes are searched with integer actions.
        Field::Z | Field::Q => &[-1, 0, 1],
    }
}

/// Default chunk size k: 243 words over {−1, 0, 1}, 256 words over {0, 1}.
/// Over Z, where every factor has the same length f ≤ 5 (2×2×2: f = 4),
/// k = f instead: one token per factor, as many tokens as with k = 5, and
/// no token that mixes the end of one factor with the start of the next.
pub fn default_chunk(shape: Shape, field: Field) -> usize {
    match field {
        Field::Z2 => 8,
        Field::Z | Field::Q => {
            let f = shape.n * shape.m;
            if f <= 5 && shape.m * shape.p == f && shape.n * shape.p == f {
                f
            } else {
                5
            }
        }
    }
}

/// The terms of `d` as actions u‖v‖w (integer coefficients; the inverse
/// of `search::selfplay::standard_basis_decomposition` without a basis).
pub fn decomposition_actions(d: &Decomposition) -> Vec<Vec<i32>> {
    (0..d.rank())
        .map(|r| {
            d.u[r]
                .iter()
                .chain(&d.v[r])
                .chain(&d.w[r])
                .map(|x| x.to_integer() as i32)
                .collect()
        })
        .collect()
}

/// True when u, v or w is zero: such a term is the zero tensor.
pub fn is_null(dims: [usize; 3], action: &[i32]) -> bool {
    let [la, lb, _] = dims;
    let (u, rest) = action.split_at(la);
    let (v, w) = rest.split_at(lb);
    [u, v, w].iter().any(|f| f.iter().all(|&x| x == 0))
}

/// (u,v,w), (−u,−v,w), (−u,v,−w) and (u,−v,−w) are the same term over Z:
/// the representative has the first nonzero of u and of v positive.
/// Over Z2 every action is its own representative.
pub fn canonicalise(field: Field, dims: [usize; 3], action: &mut [i32]) {
    if field == Field::Z2 {
        return;
    }
    let [la, lb, _] = dims;
    for (start, len) in [(0, la), (la, lb)] {
        let negative = action[start..start + len]
            .iter()
            .find(|&&x| x != 0)
            .is_some_and(|&x| x < 0);
        if negative {
            action[start..start + len].iter_mut().for_each(|x| *x = -*x);
            action[la + lb..].iter_mut().for_each(|x| *x = -*x);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionEncoding {
    values: Vec<i32>,
    chunk: usize,
    len: usize,
}

impl ActionEncoding {
    pub fn new(shape: Shape, values: &[i32], chunk: usize) -> Result<Self, String> {
        if chunk == 0 {
            return Err("chunk size must be at least 1".into());
        }
        if !values.contains(&0) {
            return Err("the coefficient set must contain 0 (padding)".into());
        }
        let vocab = (values.len() as u64).checked_pow(chunk as u32);
        if vocab.is_none_or(|v| v > u32::MAX as u64) {
            return Err(format!("vocabulary {}^{chunk} is too large", values.len()));
        }
        let len = shape.factor_lens().iter().sum();
        Ok(ActionEncoding {
            values: values.to_vec(),
            chunk,
            len,
        })
    }

    pub fn default_for(shape: Shape, field: Field) -> Self {
        Self::new(shape, coefficient_set(field), default_chunk(shape, field))
            .expect("default encodings are valid")
    }

    pub fn coefficients(&self) -> &[i32] {
        &self.values
    }

    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// L = nm + mp + np, the coefficients of one action.
    pub fn action_len(&self) -> usize {
        self.len
    }

    /// Tokens per action, ceil(L / k).
    pub fn n_tokens(&self) -> usize {
        self.len.div_ceil(self.chunk)
    }

    /// |F|^k words (the policy adds a START token of its own).
    pub fn vocab_size(&self) -> usize {
        self.values.len().pow(self.chunk as u32)
    }

    /// Encodes u‖v‖w; every coefficient must be in the set.
    pub fn encode(&self, action: &[i32]) -> Result<Vec<u32>, String> {
        if action.len() != self.len {
            return Err(format!(
                "action has {} coefficients, expected {}",
                action.len(),
                self.len
            ));
        }
        let base = self.values.len() as u32;
        let zero = self.digit(0).expect("0 is in the set");
        let mut tokens = Vec::with_capacity(self.n_tokens());
        for t in 0..self.n_tokens() {
            let mut token = 0u32;
            for i in (0..self.chunk).rev() {
                let digit = match action.get(t * self.chunk + i) {
                    Some(&x) => self
                        .digit(x)
                        .ok_or_else(|| format!("coefficient {x} is not in {:?}", self.values))?,
                    None => zero,
                };
                token = token * base + digit;
            }
            tokens.push(token);
        }
        Ok(tokens)
    }

    /// Decodes tokens back to u‖v‖w.
    pub fn decode(&self, tokens: &[u32]) -> Result<Vec<i32>, String> {
        if tokens.len() != self.n_tokens() {
            return Err(format!(
                "{} tokens, expected {}",
                tokens.len(),
                self.n_tokens()
            ));
        }
        let base = self.values.len() as u32;
        let mut action = Vec::with_capacity(self.n_tokens() * self.chunk);
        for &token in tokens {
            if token as usize >= self.vocab_size() {
                return Err(format!("token {token} is outside the vocabulary"));
            }
            let mut rest = token;
            for _ in 0..self.chunk {
                action.push(self.values[(rest % base) as usize]);
                rest /= base;
            }
        }
        if action[self.len..].iter().any(|&x| x != 0) {
            return Err("padding coefficients of the last token are not zero".into());
        }
        action.truncate(self.len);
        Ok(action)
    }

    fn digit(&self, x: i32) -> Option<u32> {
        self.values.iter().position(|&v| v == x).map(|p| p as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn round_trips_random_actions() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (shape, field, chunk) in [
            ("2x2x2", Field::Z, 4),
            ("2x2x2", Field::Z2, 8),
            ("3x4x5", Field::Z, 3),
            ("2x3x3", Field::Z2, 5),
            ("1x1x1", Field::Z, 7),
        ] {
            let shape: Shape = shape.parse().unwrap();
            let set = coefficient_set(field);
            let enc = ActionEncoding::new(shape, set, chunk).unwrap();
            for _ in 0..200 {
                let action: Vec<i32> = (0..enc.action_len())
                    .map(|_| set[rng.random_range(0..set.len())])
                    .collect();
                let tokens = enc.encode(&action).unwrap();
                assert_eq!(tokens.len(), enc.n_tokens());
                assert!(tokens.iter().all(|&t| (t as usize) < enc.vocab_size()));
                assert_eq!(enc.decode(&tokens).unwrap(), action);
            }
        }
    }

    #[test]
    fn over_z_a_short_factor_is_one_token() {
        let enc = ActionEncoding::default_for("2x2x2".parse().unwrap(), Field::Z);
        assert_eq!((enc.n_tokens(), enc.vocab_size()), (3, 81));
        // Changing one factor changes its own token and no other.
        let base = enc.encode(&[0; 12]).unwrap();
        for factor in 0..3 {
            let mut action = vec![0; 12];
            action[factor * 4..factor * 4 + 4].copy_from_slice(&[1, -1, 0, 1]);
            let tokens = enc.encode(&action).unwrap();
            for (t, (&a, &b)) in tokens.iter().zip(&base).enumerate() {
                assert_eq!(a != b, t == factor, "factor {factor}, token {t}");
            }
        }
        // Longer factors keep chunks of five over Z, and Z2 chunks of eight.
        let enc = ActionEncoding::default_for("3x3x3".parse().unwrap(), Field::Z);
        assert_eq!((enc.n_tokens(), enc.vocab_size()), (6, 243));
        let enc = ActionEncoding::default_for("2x2x3".parse().unwrap(), Field::Z);
        assert_eq!(enc.chunk(), 5);
    }

    #[test]
    fn digits_are_positional_and_padding_is_checked() {
        let enc = ActionEncoding::default_for("2x2x2".parse().unwrap(), Field::Z2);
        assert_eq!((enc.n_tokens(), enc.vocab_size()), (2, 256));
        let mut action = vec![0; 12];
        action[0] = 1; // least significant digit of token 0
        action[9] = 1; // second digit of token 1
        assert_eq!(enc.encode(&action).unwrap(), vec![1, 2]);
        // Token 1 with a 1 in a padding position (digit 4 of the last chunk).
        assert!(enc.decode(&[0, 1 << 4]).is_err());
        assert!(enc.encode(&[2; 12]).is_err());
    }
}
