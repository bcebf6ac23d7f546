//! Writes a plan as source text. C and Rust get one function per group of
//! products and one per group of outputs, so that compilers see bounded
//! functions at any rank (a single straight-line function of thousands of
//! products costs gcc minutes and rustc tens of gigabytes).

use super::plan::{Combination, Finish, Literal, Plan};
use super::Lang;
use std::fmt::Write;

/// Products (or outputs) per generated helper function.
pub const GROUP: usize = 64;

/// What the caller knows about the function: its name and sizes, the
/// header comment, and whether it works in floating point.
pub struct Frame<'a> {
    pub name: &'a str,
    pub lens: [usize; 3],
    pub header: &'a [String],
    /// Per product, the exact rational product when the code's differs
    /// from it (scaled to integers, or with residues for fractions).
    pub notes: &'a [Option<String>],
}

pub fn emit(frame: &Frame, plan: &Plan, lang: Lang) -> String {
    let mut out = String::new();
    let comment = if lang == Lang::Python { "#" } else { "//" };
    for line in frame.header {
        let _ = writeln!(out, "{comment} {line}");
    }
    match lang {
        Lang::Python => python(&mut out, frame, plan),
        Lang::C => c(&mut out, frame, plan),
        Lang::Rust => rust(&mut out, frame, plan),
    }
    out
}

/// `coefficient*name` terms joined with signs; "0" when empty.
fn sum(terms: &Combination, name: &str, lang: Lang, float: bool) -> (String, usize) {
    let zero = match lang {
        Lang::Rust if float => "0.0",
        Lang::Rust => "Wrapping(0i64)",
        _ => "0",
    };
    let mut out = String::new();
    for (lit, i) in terms {
        let (negative, magnitude) = literal(*lit, lang);
        let term = match magnitude {
            None => format!("{name}[{i}]"),
            Some(m) => format!("{m}*{name}[{i}]"),
        };
        if out.is_empty() {
            out = if negative { format!("-{term}") } else { term };
        } else {
            let _ = write!(out, " {} {term}", if negative { '-' } else { '+' });
        }
    }
    if out.is_empty() {
        out = zero.into();
    }
    (out, terms.len())
}

/// The sign and magnitude of a coefficient as the language writes it
/// (`None` for a magnitude of one).
fn literal(lit: Literal, lang: Lang) -> (bool, Option<String>) {
    match lit {
        Literal::Float(x) => {
            let m = x.abs();
            (x < 0.0, (m != 1.0).then(|| format!("{m:?}")))
        }
        // In wrapping arithmetic -2^63 is its own negative: write it positive.
        Literal::Int(x) if x == i64::MIN as i128 && lang != Lang::Python => (
            false,
            Some(match lang {
                Lang::Rust => "Wrapping(i64::MIN)".into(),
                _ => "UINT64_C(9223372036854775808)".into(),
            }),
        ),
        Literal::Int(x) => {
            let m = x.unsigned_abs();
            let text = match lang {
                _ if m == 1 => None,
                Lang::Python => Some(m.to_string()),
                Lang::Rust => Some(format!("Wrapping({m}i64)")),
                Lang::C if m <= i32::MAX as u128 => Some(m.to_string()),
                Lang::C => Some(format!("UINT64_C({m})")),
            };
            (x < 0, text)
        }
    }
}

/// A sum as a factor: parenthesised unless it is one entry alone.
fn factor(terms: &Combination, name: &str, lang: Lang, float: bool) -> String {
    let (text, _) = sum(terms, name, lang, float);
    if text.starts_with(name) && !text.contains(' ') && !text.contains('*') {
        text
    } else {
        format!("({text})")
    }
}

fn product(plan: &Plan, r: usize, lang: Lang) -> String {
    format!(
        "m[{r}] = {} * {}",
        factor(&plan.left[r], "a", lang, plan.float),
        factor(&plan.right[r], "b", lang, plan.float)
    )
}

fn note(frame: &Frame, r: usize, comment: &str) -> String {
    match &frame.notes[r] {
        Some(text) => format!("  {comment} {text}"),
        None => String::new(),
    }
}

fn python(out: &mut String, frame: &Frame, plan: &Plan) {
    let [la, lb, lc] = frame.lens;
    let _ = writeln!(out, "def {}(a, b):", frame.name);
    let _ = writeln!(
        out,
        "    \"\"\"Returns c = a b (flat row-major lists of {}).\"\"\"",
        if plan.float { "floats" } else { "integers" }
    );
    let _ = writeln!(out, "    assert len(a) == {la} and len(b) == {lb}");
    let _ = writeln!(out, "    m = [0] * {}", plan.left.len());
    for r in 0..plan.left.len() {
        let _ = writeln!(
            out,
            "    {}{}",
            product(plan, r, Lang::Python),
            note(frame, r, "#")
        );
    }
    let _ = writeln!(out, "    c = [0] * {lc}");
    for (k, (terms, finish)) in plan.outputs.iter().enumerate() {
        let (s, _) = sum(terms, "m", Lang::Python, plan.float);
        let value = match finish {
            Finish::Parity => format!("({s}) & 1"),
            Finish::Divide(d) if *d != 1 => format!("({s}) // {d}"),
            _ => s,
        };
        let _ = writeln!(out, "    c[{k}] = {value}");
    }
    let _ = writeln!(out, "    return c");
}

/// Splits 0..len into the groups of the helper functions.
fn groups(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..len.div_ceil(GROUP).max(1)).map(move |g| g * GROUP..((g + 1) * GROUP).min(len))
}

/// The helper functions of C and Rust: one per group of products and one
/// per group of outputs, each opened by its `signature` and the outputs'
/// values written by `finish`. Returns how many of each.
fn helpers(
    out: &mut String,
    frame: &Frame,
    plan: &Plan,
    lang: Lang,
    product_signature: impl Fn(usize) -> String,
    output_signature: impl Fn(usize) -> String,
    finish: impl Fn(String, &Finish) -> String,
) -> (usize, usize) {
    let products: Vec<_> = groups(plan.left.len()).collect();
    for (g, range) in products.iter().enumerate() {
        let _ = writeln!(out, "{}", product_signature(g));
        for r in range.clone() {
            let _ = writeln!(
                out,
                "    {};{}",
                product(plan, r, lang),
                note(frame, r, "//")
            );
        }
        let _ = writeln!(out, "}}\n");
    }
    let outputs: Vec<_> = groups(plan.outputs.len()).collect();
    for (g, range) in outputs.iter().enumerate() {
        let _ = writeln!(out, "{}", output_signature(g));
        for k in range.clone() {
            let (terms, how) = &plan.outputs[k];
            let (s, _) = sum(terms, "m", lang, plan.float);
            let _ = writeln!(out, "    c[{k}] = {};", finish(s, how));
        }
        let _ = writeln!(out, "}}\n");
    }
    (products.len(), outputs.len())
}

fn c(out: &mut String, frame: &Frame, plan: &Plan) {
    let [la, lb, lc] = frame.lens;
    let name = frame.name;
    let rank = plan.left.len();
    let (word, result) = if plan.float {
        ("double", "double")
    } else {
        ("uint64_t", "int64_t")
    };
    let _ = writeln!(out, "#include <stdint.h>\n");
    if plan.bound.is_some() {
        let _ = writeln!(
            out,
            "/* The signed value of a 64-bit word (two's complement), with no\n   implementation-defined conversion. */\nstatic int64_t {name}_signed(uint64_t x) {{\n    return x <= INT64_MAX ? (int64_t)x : -(int64_t)~x - 1;\n}}\n"
        );
    }
    let (products, outputs) = helpers(
        out,
        frame,
        plan,
        Lang::C,
        |g| {
            format!(
                "static void {name}_products_{g}(const {word} *a, const {word} *b, {word} *m) {{"
            )
        },
        |g| format!("static void {name}_outputs_{g}(const {word} *m, {result} *c) {{"),
        |s, finish| match finish {
            Finish::Parity => format!("(int64_t)(({s}) & 1)"),
            Finish::Signed { shift: 0 } => format!("{name}_signed({s})"),
            Finish::Signed { shift } => {
                format!("{name}_signed({s}) / INT64_C({})", 1u64 << shift)
            }
            Finish::Float | Finish::Divide(_) => s,
        },
    );
    let calls = |out: &mut String, args: &str, what: &str, count: usize| {
        for g in 0..count {
            let _ = writeln!(out, "    {name}_{what}_{g}({args});");
        }
    };
    if plan.float {
        let _ = writeln!(
            out,
            "/* c[{lc}] = product of a[{la}] and b[{lb}], flat row-major. */\nvoid {name}(const double *a, const double *b, double *c) {{"
        );
        let _ = writeln!(out, "    double m[{rank}];");
        calls(out, "a, b, m", "products", products);
        calls(out, "m, c", "outputs", outputs);
        let _ = writeln!(out, "}}");
        return;
    }
    let check = match plan.bound {
        Some(bound) => format!(
            "    for (int i = 0; i < {la}; i++) if (a[i] < -INT64_C({bound}) || a[i] > INT64_C({bound})) return 1;\n    for (int i = 0; i < {lb}; i++) if (b[i] < -INT64_C({bound}) || b[i] > INT64_C({bound})) return 1;\n"
        ),
        None => String::new(),
    };
    let returns = match plan.bound {
        Some(bound) => {
            format!("returns 0, or 1 (c untouched) when an entry of a or b lies outside ±{bound}")
        }
        None => "returns 0".into(),
    };
    let _ = writeln!(
        out,
        "/* c[{lc}] = product of a[{la}] and b[{lb}], flat row-major; {returns}. */\nint {name}(const int64_t *a, const int64_t *b, int64_t *c) {{"
    );
    let _ = write!(out, "{check}");
    // Signed and unsigned variants of one type may alias (C11 6.5p7); the
    // words are the entries modulo 2^64.
    let _ = writeln!(
        out,
        "    const uint64_t *ua = (const uint64_t *)a, *ub = (const uint64_t *)b;\n    uint64_t m[{rank}];"
    );
    calls(out, "ua, ub, m", "products", products);
    calls(out, "m, c", "outputs", outputs);
    let _ = writeln!(out, "    return 0;\n}}");
}

fn rust(out: &mut String, frame: &Frame, plan: &Plan) {
    let [la, lb, lc] = frame.lens;
    let name = frame.name;
    let rank = plan.left.len();
    let (word, result) = if plan.float {
        ("f64", "f64")
    } else {
        let _ = writeln!(out, "use std::num::Wrapping;\n");
        ("Wrapping<i64>", "i64")
    };
    let (products, outputs) = helpers(
        out,
        frame,
        plan,
        Lang::Rust,
        |g| format!("fn {name}_products_{g}(a: &[{word}], b: &[{word}], m: &mut [{word}]) {{"),
        |g| format!("fn {name}_outputs_{g}(m: &[{word}], c: &mut [{result}]) {{"),
        |s, finish| match finish {
            Finish::Parity => format!("({s}).0 & 1"),
            Finish::Signed { shift: 0 } => format!("({s}).0"),
            Finish::Signed { shift } => format!("({s}).0 / {}", 1u64 << shift),
            Finish::Float | Finish::Divide(_) => s,
        },
    );
    let _ = writeln!(
        out,
        "/// c = a b, flat row-major (a: {la}, b: {lb}, c: {lc} entries).\npub fn {name}(a: &[{result}], b: &[{result}]) -> Vec<{result}> {{\n    assert!(a.len() == {la} && b.len() == {lb});"
    );
    if let Some(bound) = plan.bound {
        let _ = writeln!(
            out,
            "    assert!(\n        a.iter().chain(b).all(|x| x.unsigned_abs() <= {bound}),\n        \"entries must lie within ±{bound} for an exact result\"\n    );"
        );
    }
    let zero = if plan.float { "0.0" } else { "Wrapping(0)" };
    if !plan.float {
        let _ = writeln!(
            out,
            "    let a: Vec<Wrapping<i64>> = a.iter().map(|&x| Wrapping(x)).collect();\n    let b: Vec<Wrapping<i64>> = b.iter().map(|&x| Wrapping(x)).collect();"
        );
    }
    let _ = writeln!(
        out,
        "    let mut m = vec![{zero}; {rank}];\n    let mut c = vec![{}; {lc}];",
        if plan.float { "0.0" } else { "0" }
    );
    for g in 0..products {
        let _ = writeln!(out, "    {name}_products_{g}(&a, &b, &mut m);");
    }
    for g in 0..outputs {
        let _ = writeln!(out, "    {name}_outputs_{g}(&m, &mut c);");
    }
    let _ = writeln!(out, "    c\n}}");
}
