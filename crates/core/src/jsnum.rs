//! JavaScript number semantics, for the values OnTheFly wrote with `JSON.stringify` and read
//! back through `Number()`.
//!
//! The original stores report losses, sample indices and subsets as JSON text produced by
//! `JSON.stringify` and normalises what it reads with `Number(x)`. Reproducing both exactly keeps
//! the stored TEXT byte-identical to the original's and the reader's output value-identical,
//! including its quirks (`Number(null) === 0`, `Number("0x10") === 16`, `Number([7]) === 7`).

use serde_json::Value as Json;

/// ECMAScript `Number.prototype.toString()` (radix 10) of `x`.
pub fn to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust's `{:e}` prints the shortest digits that round-trip, like ECMAScript requires:
    // "d.ddde<exp>" or "de<exp>".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp.parse::<i32>().unwrap_or(0) + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e >= 0 {
            format!("+{e}")
        } else {
            e.to_string()
        };
        if k == 1 {
            format!("{digits}e{e}")
        } else {
            format!("{}.{}e{e}", &digits[..1], &digits[1..])
        }
    };
    format!("{sign}{body}")
}

/// `JSON.stringify(x)` for a number: `null` when not finite.
pub fn to_json(x: f64) -> String {
    if x.is_finite() {
        to_string(x)
    } else {
        "null".into()
    }
}

/// `JSON.stringify` of an array whose items are numbers or `null` (`None`).
pub fn json_array(items: impl IntoIterator<Item = Option<f64>>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item.map_or_else(|| "null".into(), to_json));
    }
    out.push(']');
    out
}

/// ECMAScript `Number(value)` of a value produced by `JSON.parse`.
pub fn number_of(value: &Json) -> f64 {
    match value {
        Json::Null => 0.0,
        Json::Bool(b) => f64::from(u8::from(*b)),
        Json::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Json::String(s) => string_to_number(s),
        Json::Array(_) => string_to_number(&string_of(value)),
        Json::Object(_) => f64::NAN,
    }
}

/// ECMAScript `String(value)` of a `JSON.parse` result (arrays join their items with commas).
fn string_of(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => to_string(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => s.clone(),
        Json::Array(items) => items
            .iter()
            .map(|v| {
                if v.is_null() {
                    String::new()
                } else {
                    string_of(v)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
        Json::Object(_) => "[object Object]".into(),
    }
}

/// ECMAScript `StringToNumber`: surrounding white space ignored, empty is 0, `Infinity`, decimal
/// literals and `0x`/`0o`/`0b` integers; anything else is NaN.
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    let radix = match t.get(..2) {
        Some("0x" | "0X") => 16,
        Some("0o" | "0O") => 8,
        Some("0b" | "0B") => 2,
        _ => 10,
    };
    if radix != 10 {
        let digits = &t[2..];
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return f64::NAN;
        }
        return digits.chars().fold(0.0, |acc, c| {
            acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        });
    }
    let (sign, unsigned) = match t.as_bytes()[0] {
        b'+' => (1.0, &t[1..]),
        b'-' => (-1.0, &t[1..]),
        _ => (1.0, t),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    if is_decimal_literal(unsigned) {
        unsigned.parse::<f64>().map_or(f64::NAN, |v| sign * v)
    } else {
        f64::NAN
    }
}

/// `digits [. digits] [e [+-] digits]` with at least one digit in the mantissa.
fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

/// ECMAScript WhiteSpace and LineTerminator code points.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_like_number_to_string() {
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (-0.0, "0"),
            (123456789.0, "123456789"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (0.30000000000000004, "0.30000000000000004"),
            (2.5e300, "2.5e+300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, s) in cases {
            assert_eq!(to_string(x), s, "{x:e}");
        }
    }

    #[test]
    fn json_arrays_match_json_stringify() {
        let s = json_array([
            Some(1.0),
            Some(0.25),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(-0.0),
        ]);
        assert_eq!(s, "[1,0.25,null,null,null,0]");
        assert_eq!(json_array([]), "[]");
    }

    #[test]
    fn number_of_follows_number_coercion() {
        let cases = [
            (json!(null), 0.0),
            (json!(true), 1.0),
            (json!(false), 0.0),
            (json!(2.5), 2.5),
            (json!(""), 0.0),
            (json!("  12 \n"), 12.0),
            (json!("0x10"), 16.0),
            (json!("0b101"), 5.0),
            (json!("0o17"), 15.0),
            (json!("-Infinity"), f64::NEG_INFINITY),
            (json!(".5"), 0.5),
            (json!("5."), 5.0),
            (json!("+1e3"), 1000.0),
            (json!([]), 0.0),
            (json!([7]), 7.0),
            (json!([["8"]]), 8.0),
            (json!([null]), 0.0),
        ];
        for (v, want) in cases {
            assert_eq!(number_of(&v), want, "{v}");
        }
        for v in [
            json!("abc"),
            json!("1e"),
            json!("-0x10"),
            json!("inf"),
            json!("."),
            json!([1, 2]),
            json!({}),
            json!("NaN"),
        ] {
            assert!(number_of(&v).is_nan(), "{v}");
        }
    }
}
