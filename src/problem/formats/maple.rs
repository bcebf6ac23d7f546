//! The catalogue's Maple triads: `{ {{A}, {B}, {Cᵀ}}, … }`, each matrix a
//! list of rows, A n×m, B m×p and C transposed (p×n); numbers are
//! integers or fractions p/q. A comment `# over Z2` (which this writer
//! adds) marks a mod-2 scheme; otherwise a file of zeros and ones is read
//! over Z when it holds there, else over Z2.

use super::{coeff, coeff_text, from_transposed, to_c_transposed};
use crate::problem::decomposition::Decomposition;
use crate::problem::field::Coeff;
use crate::problem::shape::Shape;
use anyhow::{anyhow, bail, Result};

/// A nested list of numbers.
#[derive(Debug)]
enum Node {
    List(Vec<Node>),
    Number(Coeff),
}

fn parse_node(tokens: &[String], at: &mut usize) -> Result<Node> {
    let t = tokens
        .get(*at)
        .ok_or_else(|| anyhow!("the file ends inside a list"))?;
    *at += 1;
    if t == "{" {
        let mut items = vec![];
        loop {
            match tokens.get(*at).map(String::as_str) {
                Some("}") => {
                    *at += 1;
                    return Ok(Node::List(items));
                }
                Some(",") => *at += 1,
                Some(_) => items.push(parse_node(tokens, at)?),
                None => bail!("the file ends inside a list"),
            }
        }
    }
    Ok(Node::Number(coeff(t)?))
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut word = String::new();
    for c in text.chars() {
        if c == '{' || c == '}' || c == ',' || c.is_whitespace() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn matrix(node: &Node, what: &str) -> Result<Vec<Vec<Coeff>>> {
    let Node::List(rows) = node else {
        bail!("{what} must be a list of rows");
    };
    rows.iter()
        .map(|r| match r {
            Node::List(xs) => xs
                .iter()
                .map(|x| match x {
                    Node::Number(c) => Ok(*c),
                    Node::List(_) => bail!("{what}: a row holds a list"),
                })
                .collect(),
            Node::Number(_) => bail!("{what} must be a list of rows"),
        })
        .collect()
}

pub fn parse(text: &str) -> Result<Decomposition> {
    // Comments (`#` to the end of a line, as in Maple); `# over Z2` is how
    // this writer marks a mod-2 scheme.
    let z2 = text
        .lines()
        .any(|l| l.trim_start().starts_with('#') && l.contains("Z2"))
        .then_some(true);
    let body: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect();
    let tokens = tokens(&body.join("\n"));
    let mut at = 0;
    let Node::List(triads) = parse_node(&tokens, &mut at)? else {
        bail!("a Maple file is a list of triads {{{{A}}, {{B}}, {{C}}}}");
    };
    if at != tokens.len() {
        bail!("text after the list of triads");
    }
    let mut parts: [Vec<Vec<Coeff>>; 3] = Default::default();
    let mut dims: Option<(usize, usize, usize)> = None;
    for (r, triad) in triads.iter().enumerate() {
        let Node::List(m) = triad else {
            bail!("triad {r} is not a list");
        };
        let [a, b, c] = &m[..] else {
            bail!("triad {r} must hold three matrices");
        };
        let (a, b, c) = (matrix(a, "A")?, matrix(b, "B")?, matrix(c, "C")?);
        let dim = |x: &Vec<Vec<Coeff>>| (x.len(), x.first().map_or(0, Vec::len));
        let (n, m) = dim(&a);
        let (m2, p) = dim(&b);
        let (p2, n2) = dim(&c);
        let ragged = [&a, &b, &c]
            .iter()
            .any(|x| x.iter().any(|row| row.len() != x[0].len()));
        if ragged || m2 != m || p2 != p || n2 != n {
            bail!("triad {r}: A {n}x{m}, B {m2}x{p} and Cᵀ {p2}x{n2} do not fit one shape");
        }
        match dims {
            None => dims = Some((n, m, p)),
            Some(d) if d != (n, m, p) => bail!("triad {r} has another shape than triad 0"),
            _ => {}
        }
        for (part, x) in parts.iter_mut().zip([a, b, c]) {
            part.push(x.into_iter().flatten().collect());
        }
    }
    let (n, m, p) = dims.ok_or_else(|| anyhow!("the file holds no triad"))?;
    let shape = Shape::new(n, m, p).map_err(|e| anyhow!(e))?;
    let [u, v, w] = parts;
    from_transposed(shape, z2, u, v, w)
}

pub fn write(d: &Decomposition) -> String {
    let s = d.shape;
    let wt = to_c_transposed(s, &d.w);
    let mat = |row: &[Coeff], rows: usize, cols: usize| -> String {
        let inner: Vec<String> = (0..rows)
            .map(|i| {
                let xs: Vec<String> = row[i * cols..(i + 1) * cols]
                    .iter()
                    .map(coeff_text)
                    .collect();
                format!("{{{}}}", xs.join(", "))
            })
            .collect();
        format!("{{{}}}", inner.join(", "))
    };
    let triads: Vec<String> = (0..d.rank())
        .map(|r| {
            format!(
                "  {{{}, {}, {}}}",
                mat(&d.u[r], s.n, s.m),
                mat(&d.v[r], s.m, s.p),
                mat(&wt[r], s.p, s.n)
            )
        })
        .collect();
    let mark = if d.field == crate::problem::field::Field::Z2 {
        "# over Z2\n"
    } else {
        ""
    };
    format!("{mark}{{\n{}\n}}\n", triads.join(",\n"))
}
