//! Code export: a decomposition becomes straight-line code for C = AB with
//! exactly R multiplications of an A-side sum by a B-side sum.
//!
//! The generated function works on integer matrices (flat, row-major).
//! Rational coefficients stay exact: each product is scaled to integers by
//! the denominators of its u and v, the outputs are summed with integer
//! weights over a common denominator D and divided exactly by D at the end.
//! For Z2 every sum is reduced with `& 1`, so the function returns AB mod 2.

use super::decomposition::Decomposition;
use super::field::{format_coeff, Coeff, Field};
use num_integer::Integer;
use num_traits::{One, Signed, Zero};
use std::fmt::Write;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Python,
    Rust,
    C,
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "python" | "py" => Ok(Lang::Python),
            "rust" | "rs" => Ok(Lang::Rust),
            "c" => Ok(Lang::C),
            _ => Err(format!(
                "unknown language '{s}': expected python, rust or c"
            )),
        }
    }
}

/// The integer form of a decomposition: per term, integer u and v rows
/// (the exact rows times `scale[r]`), and integer w weights over the common
/// denominator `denominator`. All fields hold integral values.
struct IntegerScheme {
    u: Vec<Vec<Coeff>>,
    v: Vec<Vec<Coeff>>,
    w: Vec<Vec<Coeff>>,
    /// The product of the u and v row scales of each term.
    scale: Vec<Coeff>,
    denominator: i128,
}

fn integer_scheme(d: &Decomposition) -> IntegerScheme {
    let reduce = |x: &Coeff| d.field.reduce(x).expect("coefficients are checked on load");
    let reduced = |row: &[Coeff]| row.iter().map(reduce).collect::<Vec<_>>();
    let scaled = |row: &[Coeff], by: i128| row.iter().map(|x| x * by).collect::<Vec<_>>();
    let (mut u, mut v, mut w_exact, mut scale) = (vec![], vec![], vec![], vec![]);
    for r in 0..d.rank() {
        let (ur, vr, wr) = (reduced(&d.u[r]), reduced(&d.v[r]), reduced(&d.w[r]));
        let (du, dv) = (lcm_of_denominators(&ur), lcm_of_denominators(&vr));
        u.push(scaled(&ur, du));
        v.push(scaled(&vr, dv));
        // m_r = (u_r·a)(v_r·b) = s_r t_r / (du dv) with integer s_r, t_r.
        w_exact.push(
            scaled(&wr, 1)
                .into_iter()
                .map(|x| x / (du * dv))
                .collect::<Vec<_>>(),
        );
        scale.push(Coeff::from_integer(du * dv));
    }
    let denominator = w_exact
        .iter()
        .fold(1i128, |acc, row| acc.lcm(&lcm_of_denominators(row)));
    let w = w_exact.iter().map(|row| scaled(row, denominator)).collect();
    IntegerScheme {
        u,
        v,
        w,
        scale,
        denominator,
    }
}

fn lcm_of_denominators(row: &[Coeff]) -> i128 {
    row.iter().fold(1i128, |acc, x| acc.lcm(x.denom()))
}

/// `2*a[0] + a[3] - 1/2*a[1]` style sum of `coeff * name[index]`, with its
/// number of terms; "0" when empty.
fn linear_combination(coeffs: &[Coeff], name: impl Fn(usize) -> String) -> (String, usize) {
    let mut out = String::new();
    let mut count = 0;
    for (i, c) in coeffs.iter().enumerate() {
        if c.is_zero() {
            continue;
        }
        let magnitude = if c.abs().is_one() {
            name(i)
        } else {
            format!("{}*{}", format_coeff(&c.abs()), name(i))
        };
        if out.is_empty() {
            out = if c.is_negative() {
                format!("-{magnitude}")
            } else {
                magnitude
            };
        } else {
            let sign = if c.is_negative() { '-' } else { '+' };
            let _ = write!(out, " {sign} {magnitude}");
        }
        count += 1;
    }
    if out.is_empty() {
        out.push('0');
    }
    (out, count)
}

/// Wraps a sum so it can be a factor: parentheses unless it is one term,
/// and the mod-2 reduction for Z2.
fn as_factor(sum: (String, usize), field: Field) -> String {
    let (text, terms) = sum;
    match field {
        Field::Z2 => format!("(({text}) & 1)"),
        _ if terms == 1 && !text.starts_with('-') => text,
        _ => format!("({text})"),
    }
}

/// Generates the function `matmul_{n}x{m}x{p}` in `lang`.
pub fn export(d: &Decomposition, lang: Lang) -> String {
    let scheme = integer_scheme(d);
    let s = d.shape;
    let name = format!("matmul_{}x{}x{}", s.n, s.m, s.p);
    let [la, lb, lc] = s.factor_lens();
    let rank = d.rank();

    let header = header_lines(d, scheme.denominator);
    let (comment, int, mut out) = match lang {
        Lang::Python => ("#", "", String::new()),
        Lang::Rust => ("//", "let ", String::new()),
        Lang::C => ("//", "const int64_t ", String::new()),
    };
    for line in &header {
        let _ = writeln!(out, "{comment} {line}");
    }
    match lang {
        Lang::Python => {
            let _ = writeln!(out, "def {name}(a, b):");
            let _ = writeln!(
                out,
                "    \"\"\"Returns c = a b (flat row-major lists of integers).\"\"\""
            );
            let _ = writeln!(out, "    assert len(a) == {la} and len(b) == {lb}");
        }
        Lang::Rust => {
            let _ = writeln!(out, "pub fn {name}(a: &[i64], b: &[i64]) -> Vec<i64> {{");
            let _ = writeln!(out, "    assert!(a.len() == {la} && b.len() == {lb});");
        }
        Lang::C => {
            let _ = writeln!(out, "#include <stdint.h>\n");
            let _ = writeln!(
                out,
                "/* c[{lc}] = product of a[{la}] and b[{lb}], flat row-major. */\nvoid {name}(const int64_t *a, const int64_t *b, int64_t *c) {{"
            );
        }
    }
    let end = if lang == Lang::Python { "" } else { ";" };
    for r in 0..rank {
        let left = as_factor(
            linear_combination(&scheme.u[r], |i| format!("a[{i}]")),
            d.field,
        );
        let right = as_factor(
            linear_combination(&scheme.v[r], |i| format!("b[{i}]")),
            d.field,
        );
        let _ = write!(out, "    {int}m{r} = {left} * {right}{end}");
        if !scheme.scale[r].is_one() {
            // Show the exact rational product this integer one stands for.
            let exact = |row: &[Coeff], name: &str| {
                as_factor(linear_combination(row, |i| format!("{name}[{i}]")), d.field)
            };
            let (ur, vr) = (&d.u[r], &d.v[r]);
            let _ = write!(
                out,
                "  {comment} = {} * {} * {}",
                format_coeff(&scheme.scale[r]),
                exact(ur, "a"),
                exact(vr, "b")
            );
        }
        out.push('\n');
    }
    let outputs: Vec<String> = (0..lc)
        .map(|k| {
            let weights: Vec<Coeff> = (0..rank).map(|r| scheme.w[r][k]).collect();
            let (sum, _) = linear_combination(&weights, |r| format!("m{r}"));
            match (d.field, scheme.denominator) {
                (Field::Z2, _) => format!("({sum}) & 1"),
                (_, 1) => sum,
                (_, den) if lang == Lang::Python => format!("({sum}) // {den}"),
                (_, den) => format!("({sum}) / {den}"),
            }
        })
        .collect();
    match lang {
        Lang::Python => {
            let _ = writeln!(out, "    return [");
            for o in &outputs {
                let _ = writeln!(out, "        {o},");
            }
            let _ = writeln!(out, "    ]");
        }
        Lang::Rust => {
            let _ = writeln!(out, "    vec![");
            for o in &outputs {
                let _ = writeln!(out, "        {o},");
            }
            let _ = writeln!(out, "    ]\n}}");
        }
        Lang::C => {
            for (k, o) in outputs.iter().enumerate() {
                let _ = writeln!(out, "    c[{k}] = {o};");
            }
            let _ = writeln!(out, "}}");
        }
    }
    out
}

fn header_lines(d: &Decomposition, denominator: i128) -> Vec<String> {
    let s = d.shape;
    let mut lines = vec![
        format!(
            "C = A B for A {}x{}, B {}x{}: shape {}, field {}, rank {} ({} multiplications; the schoolbook algorithm uses {}).",
            s.n, s.m, s.m, s.p, s, d.field, d.rank(), d.rank(), s.standard_rank()
        ),
        format!(
            "Flat row-major: a[i*{m}+j], b[j*{p}+k], c[i*{p}+k]. Generated by tensorsearch.",
            m = s.m,
            p = s.p
        ),
    ];
    match d.field {
        Field::Z2 => lines.push("Arithmetic modulo 2: the result is A B mod 2.".into()),
        _ if denominator != 1 => lines.push(format!(
            "Rational coefficients (e.g. {}) are applied exactly: sums are scaled to integers and divided exactly by {denominator}.",
            example_fraction(d)
        )),
        _ => lines.push("Integer coefficients: exact over every ring.".into()),
    }
    lines
}

fn example_fraction(d: &Decomposition) -> String {
    d.factors()
        .iter()
        .flat_map(|f| f.iter().flatten())
        .find(|x| !x.is_integer())
        .map(format_coeff)
        .unwrap_or_else(|| "1".into())
}
